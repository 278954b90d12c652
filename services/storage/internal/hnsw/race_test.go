//go:build race

package hnsw

// raceEnabled shrinks the heaviest tests under the race detector, which
// makes them about 50 times slower.
const raceEnabled = true
