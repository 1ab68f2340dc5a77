// The team store: the runs in a PostgreSQL database (libpqxx), for drivers and approvers on
// several machines (docs/team.md). Same records and semantics as the SQLite store: every write a
// committed transaction before the engine acts, a versioned schema created on first use, a lease
// taken under a row lock, step logs in the store.
#pragma once

#include <memory>
#include <string>

#include "state/store.h"

namespace relengine::state {

// Is `location` a PostgreSQL URL (postgresql://... or postgres://...)?
bool is_postgres_url(const std::string& location);

// `location` as messages show it: a PostgreSQL URL with its password (user:PASSWORD@, or a
// password= parameter) replaced by ***; anything else as it is.
std::string masked_location(const std::string& location);

// Opens the store in the database `url` names (libpq URL; PG* variables apply as with psql). The
// tables live in the connection's current schema: the first schema of its search_path that
// exists; when none does, the first it names, created on first use (?options=-csearch_path%3DNAME:
// name one schema). Throws StateError.
std::unique_ptr<RunStore> open_postgres_store(const std::string& url, OpenMode mode);

}  // namespace relengine::state
