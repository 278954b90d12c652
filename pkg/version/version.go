// Package version holds the build's version, stamped with -ldflags.
package version

// Set at build time: -X github.com/shoaldb/shoal/pkg/version.Version=...
var (
	Version = "0.1.0-dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// QdrantCompatible is the Qdrant version reported to clients (GET /,
// health checks): the official clients warn when the server is more than
// one minor version away, and 1.18 keeps the 1.17-1.19 clients quiet.
const QdrantCompatible = "1.18.0"
