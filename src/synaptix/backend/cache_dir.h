#pragma once
// Where Synaptix keeps what it can rebuild: compiled modules and the tuning database.
#include <string>

namespace synaptix::backend {

// $SYNAPTIX_CACHE_DIR, else $XDG_CACHE_HOME/synaptix, else ~/.cache/synaptix. Not created here.
std::string default_cache_dir();
// mkdir -p; throws naming the path on failure.
void make_dirs(const std::string& path);

}  // namespace synaptix::backend
