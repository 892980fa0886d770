/** The users API as a client sees it through the gateway or the monolith: what tests and benchmarks seed and read. */
export interface NewUser {
  name: string;
  email: string;
}

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
