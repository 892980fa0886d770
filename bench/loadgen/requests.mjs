// What the n-th request of a load spec looks like; run-load.mjs and open-loop.mjs send the same ones.
export function requestFor(spec, sequence) {
  const path = spec.ids?.length ? spec.path.replace(':id', spec.ids[sequence % spec.ids.length]) : spec.path;
  if (!spec.createUsers) return { method: spec.method, path, headers: {} };
  // The users service answers 409 to a taken email, so every create gets a new one.
  return {
    method: spec.method,
    path,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: `Bench ${sequence}`, email: `bench-${spec.tag}-${sequence}@example.org` }),
  };
}
