// C++ fixture: templates, namespaces, lambdas, smart pointers.
#include <algorithm>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace geo {
namespace detail {
constexpr double kPi = 3.14159265358979;
}  // namespace detail

class Shape {
public:
    virtual ~Shape() = default;
    virtual double area() const = 0;
    virtual std::string name() const { return "shape"; }
};

class Circle final : public Shape {
public:
    explicit Circle(double r) : r_(r) {}
    double area() const override { return detail::kPi * r_ * r_; }
    std::string name() const override { return "circle"; }

private:
    double r_;
};

template <typename T>
class Box : public Shape {
public:
    Box(T w, T h) : w_{w}, h_{h} {}
    double area() const override { return static_cast<double>(w_ * h_); }

private:
    T w_, h_;
};

template <typename Container, typename Fn>
auto sum_by(const Container& c, Fn&& fn) -> decltype(fn(*c.begin())) {
    using R = decltype(fn(*c.begin()));
    return std::accumulate(c.begin(), c.end(), R{},
                           [&](R acc, const auto& x) { return acc + fn(x); });
}

}  // namespace geo

int main() {
    using namespace geo;
    std::vector<std::unique_ptr<Shape>> shapes;
    shapes.push_back(std::make_unique<Circle>(1.0));
    shapes.push_back(std::make_unique<Box<int>>(3, 4));
    shapes.emplace_back(new Box<double>(0.5, 2.0));

    std::sort(shapes.begin(), shapes.end(),
              [](const auto& a, const auto& b) { return a->area() < b->area(); });

    double threshold = 2.0;
    auto big = std::count_if(shapes.begin(), shapes.end(),
                             [threshold](const auto& s) { return s->area() > threshold; });

    for (const auto& s : shapes) {
        std::cout << s->name() << ": " << s->area() << '\n';
    }
    std::cout << "total=" << sum_by(shapes, [](const auto& s) { return s->area(); })
              << " big=" << big << std::endl;
    return 0;
}
