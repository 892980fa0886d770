# The users service's own role, made once on the server's first start: the official postgres
# image runs /docker-entrypoint-initdb.d/*.sh after initdb (sourced when not executable, so
# POSIX sh and nothing that exits on success), and so does infra/offline-base/build-postgres.sh's.
# users_app logs in and owns the schema `users`, where users' migrations create its tables; it is
# no superuser and creates no database or role, so a flaw in users reaches its own data only.
# POSTGRES_USER stays the DBA's. Its password: USERS_DB_PASSWORD, or the file USERS_DB_PASSWORD_FILE
# names (a docker or Kubernetes secret); users' DATABASE_URL carries the same one.
users_app_password="${USERS_DB_PASSWORD:-}"
if [ -n "${USERS_DB_PASSWORD_FILE:-}" ]; then
  if [ -n "$users_app_password" ]; then
    echo "10-users-app.sh: both USERS_DB_PASSWORD and USERS_DB_PASSWORD_FILE are set (but are exclusive)" >&2
    exit 1
  fi
  users_app_password="$(cat "$USERS_DB_PASSWORD_FILE")" || exit 1
fi
if [ -z "$users_app_password" ]; then
  echo "10-users-app.sh: USERS_DB_PASSWORD (or USERS_DB_PASSWORD_FILE) is not set: users would have no role to log in as" >&2
  exit 1
fi
# psql quotes the variables (:'password', :"database"): any password is taken literally.
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" \
  --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" \
  -v password="$users_app_password" -v database="${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" <<'SQL'
CREATE ROLE users_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'password';
CREATE SCHEMA users AUTHORIZATION users_app;
-- Unqualified names (the migrations' tables) resolve to its schema, and only to it.
ALTER ROLE users_app SET search_path = users;
-- PostgreSQL 15 made public read-only for other roles; older servers (and temporary tables) did not.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO users_app;
SQL
unset users_app_password
