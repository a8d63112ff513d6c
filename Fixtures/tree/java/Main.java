package fixtures.java;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/** Java fixture: generics, annotations, lambdas, records. */
public class Main {

    @FunctionalInterface
    interface Transformer<A, B> {
        B apply(A input);

        default <C> Transformer<A, C> then(Transformer<? super B, ? extends C> next) {
            return a -> next.apply(apply(a));
        }
    }

    record Pair<L, R>(L left, R right) {}

    static final class Registry<K extends Comparable<K>, V> {
        private final List<Pair<K, V>> entries = new ArrayList<>();

        void put(K key, V value) {
            entries.add(new Pair<>(key, value));
        }

        Optional<V> get(K key) {
            return entries.stream()
                    .filter(p -> p.left().compareTo(key) == 0)
                    .map(Pair::right)
                    .findFirst();
        }

        <R> Map<K, R> mapValues(Function<? super V, ? extends R> fn) {
            return entries.stream().collect(Collectors.toMap(Pair::left, p -> fn.apply(p.right())));
        }
    }

    @Deprecated(since = "0.1")
    static int legacyLength(String s) {
        return s == null ? 0 : s.length();
    }

    @SuppressWarnings("unchecked")
    public static void main(String[] args) {
        Registry<String, Integer> reg = new Registry<>();
        reg.put("one", 1);
        reg.put("two", 2);
        reg.put("three", 3);

        Transformer<Integer, Integer> twice = x -> x * 2;
        Transformer<Integer, String> label = twice.then(n -> "n=" + n);

        reg.get("two").map(label::apply).ifPresent(System.out::println);
        Map<String, String> labelled = reg.mapValues(v -> label.apply(v));
        labelled.forEach((k, v) -> System.out.printf("%s -> %s%n", k, v));

        Runnable r = () -> {
            int total = 0;
            for (String key : labelled.keySet()) {
                total += legacyLength(key);
            }
            System.out.println("total key length: " + total);
        };
        r.run();
    }
}
