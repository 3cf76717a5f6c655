// The embedded catalog of `radiopath` output folders (Archive) uses SQLite's C API.
#include <sqlite3.h>
