// TypeScript fixture: interfaces, generics, enums, decorators.
export enum Status {
  Pending = "pending",
  Active = "active",
  Disabled = "disabled",
}

export interface Entity {
  readonly id: string;
  createdAt: Date;
}

export interface Account extends Entity {
  owner: string;
  status: Status;
  balance?: number;
}

type Predicate<T> = (value: T) => boolean;

function logCall(target: object, key: string, desc: PropertyDescriptor): PropertyDescriptor {
  const original = desc.value as (...args: unknown[]) => unknown;
  desc.value = function (this: unknown, ...args: unknown[]) {
    console.debug(`${String(key)} called with`, args);
    return original.apply(this, args);
  };
  return desc;
}

export class Repository<T extends Entity> {
  protected items = new Map<string, T>();

  save(item: T): T {
    this.items.set(item.id, item);
    return item;
  }

  find(pred: Predicate<T>): T[] {
    return Array.from(this.items.values()).filter(pred);
  }
}

export class AccountService {
  constructor(private readonly repo: Repository<Account> = new Repository()) {}

  @logCall
  open(owner: string): Account {
    const account: Account = {
      id: `acc-${Math.random().toString(36).slice(2, 8)}`,
      createdAt: new Date(),
      owner,
      status: Status.Pending,
    };
    return this.repo.save(account);
  }

  active(): ReadonlyArray<Account> {
    return this.repo.find((a) => a.status === Status.Active);
  }

  total<K extends keyof Account>(key: K): number {
    return this.repo
      .find(() => true)
      .reduce((sum, a) => sum + (typeof a[key] === "number" ? (a[key] as number) : 0), 0);
  }
}
