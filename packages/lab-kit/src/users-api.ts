/** The users API as a client sees it through the gateway or the monolith: what tests and benchmarks seed and read. */
export interface NewUser {
  name: string;
  email: string;
}

/**
 * The users read that scaling is measured with: a page of 50 users. A point read
 * (GET /api/users/:id) costs a users replica about half of what the gateway's hop costs
 * it; a page costs it about as much as the hop. With every container on one shared core,
 * only the page leaves room in the gateway's quota for what 3 replicas can serve.
 */
export const USERS_PAGE = '/api/users?limit=50';

export const postUser = (baseUrl: string, user: NewUser, init: RequestInit = {}) =>
  fetch(`${baseUrl}/api/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(user),
    ...init,
  });

/** Creates a user and returns its id; anything but 201 is an error. */
export async function createUser(baseUrl: string, user: NewUser): Promise<string> {
  const res = await postUser(baseUrl, user);
  const body = (await res.json().catch(() => ({}))) as { id?: string };
  if (res.status !== 201 || !body.id) throw new Error(`POST ${baseUrl}/api/users answered ${res.status}`);
  return body.id;
}

/** Every stored user, following the cursor page by page. */
export async function listUsers<T = { id: string; email: string }>(baseUrl: string): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  do {
    const res = await fetch(`${baseUrl}/api/users?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    const page = (await res.json()) as { items: T[]; nextCursor: string | null };
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

/** Creates `count` users (the page above is full from 50), one after the other; returns their ids. */
export async function seedUsers(baseUrl: string, count: number, label = 'Seed'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(await createUser(baseUrl, { name: `${label} ${i}`, email: `${label.toLowerCase()}-${i}@example.org` }));
  }
  return ids;
}
