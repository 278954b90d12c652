// Package container tests Shoal the way deploy/compose runs it: it builds
// the binaries and the FROM-scratch images (make build images), starts the
// docker compose cluster (3 meta, 3 storage, 2 routers) under a throwaway
// project name on free loopback ports, drives it from the host over REST
// and, when the routers serve it, gRPC with the official Qdrant Go client,
// and injects container faults: a killed storage node, a paused meta
// leader, a storage node cut off the network, a restart of everything.
//
// The tests skip with a message when no Docker engine or compose tool is
// available, and always tear the project down (containers, networks and
// volumes).
package container
