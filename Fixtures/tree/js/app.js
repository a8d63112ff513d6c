// ES module fixture: classes, arrow functions, template literals, regexes.
import { readFile } from "node:fs/promises";
import path from "node:path";

export const EMAIL_RE = /^[\w.+-]+@[\w-]+\.[a-z]{2,}$/i;
const SLUG_RE = /[^a-z0-9]+/g;

export const slugify = (text) =>
  text.toLowerCase().replace(SLUG_RE, "-").replace(/^-|-$/g, "");

export class UserStore {
  #users = new Map();
  static instances = 0;

  constructor(name = "default") {
    this.name = name;
    UserStore.instances += 1;
  }

  add({ email, displayName, ...rest }) {
    if (!EMAIL_RE.test(email)) {
      throw new TypeError(`invalid email: ${email}`);
    }
    const id = slugify(displayName ?? email.split("@")[0]);
    this.#users.set(id, { email, displayName, ...rest });
    return id;
  }

  get size() {
    return this.#users.size;
  }

  *[Symbol.iterator]() {
    yield* this.#users.entries();
  }

  summary() {
    return [...this]
      .map(([id, u]) => `${id.padEnd(12)} <${u.email}>`)
      .join("\n");
  }
}

export async function loadUsers(file) {
  const raw = await readFile(path.resolve(file), "utf8");
  const store = new UserStore(path.basename(file, ".json"));
  for (const user of JSON.parse(raw)) {
    try {
      store.add(user);
    } catch (err) {
      console.warn(`skipping: ${err.message}`);
    }
  }
  return store;
}

export default UserStore;
