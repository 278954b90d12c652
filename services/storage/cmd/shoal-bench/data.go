package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/shoaldb/shoal/services/storage/internal/distance"
)

// Files of a prepared data set (the "fbin"/"ibin" layout of the big-ann
// benchmarks, which the C++ hnswlib driver reads too): a little-endian
// uint32 row count and uint32 column count, then rows*cols float32 or
// int32 values.
const (
	baseFile  = "base.fbin"
	queryFile = "query.fbin"
	truthFile = "gt.ibin"
)

// matrix is rows×cols float32 values, row-major.
type matrix struct {
	rows, cols int
	data       []float32
}

func (m matrix) row(i int) []float32 { return m.data[i*m.cols : (i+1)*m.cols] }

func writeMatrix(path string, rows, cols int, values func(i int) uint32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:4], uint32(rows))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(cols))
	w.Write(hdr[:])
	var b [4]byte
	for i := range rows * cols {
		binary.LittleEndian.PutUint32(b[:], values(i))
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func writeFloats(path string, m matrix) error {
	return writeMatrix(path, m.rows, m.cols, func(i int) uint32 { return math.Float32bits(m.data[i]) })
}

// readMatrix reads a file written by writeMatrix as raw uint32 words.
func readMatrix(path string) (rows, cols int, words []uint32, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, nil, err
	}
	if len(raw) < 8 {
		return 0, 0, nil, fmt.Errorf("%s: too short", path)
	}
	rows = int(binary.LittleEndian.Uint32(raw))
	cols = int(binary.LittleEndian.Uint32(raw[4:]))
	if len(raw) != 8+4*rows*cols {
		return 0, 0, nil, fmt.Errorf("%s: %d bytes for %d×%d", path, len(raw), rows, cols)
	}
	words = make([]uint32, rows*cols)
	for i := range words {
		words[i] = binary.LittleEndian.Uint32(raw[8+4*i:])
	}
	return rows, cols, words, nil
}

func readFloats(path string) (matrix, error) {
	rows, cols, words, err := readMatrix(path)
	if err != nil {
		return matrix{}, err
	}
	m := matrix{rows: rows, cols: cols, data: make([]float32, len(words))}
	for i, w := range words {
		m.data[i] = math.Float32frombits(w)
	}
	return m, nil
}

// readIDXImages reads a gzipped IDX image file (the MNIST format: big
// endian magic 0x803, count, rows, cols, then bytes) as float32 pixel
// values 0..255, as ann-benchmarks' fashion-mnist-784-euclidean holds them.
func readIDXImages(path string, limit int) (matrix, error) {
	f, err := os.Open(path)
	if err != nil {
		return matrix{}, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return matrix{}, fmt.Errorf("%s: %w", path, err)
	}
	var hdr [16]byte
	if _, err := io.ReadFull(zr, hdr[:]); err != nil {
		return matrix{}, fmt.Errorf("%s: %w", path, err)
	}
	if magic := binary.BigEndian.Uint32(hdr[:]); magic != 0x803 {
		return matrix{}, fmt.Errorf("%s: magic %#x is not an IDX image file", path, magic)
	}
	n := int(binary.BigEndian.Uint32(hdr[4:]))
	dim := int(binary.BigEndian.Uint32(hdr[8:]) * binary.BigEndian.Uint32(hdr[12:]))
	if limit > 0 {
		n = min(n, limit)
	}
	px := make([]byte, n*dim)
	if _, err := io.ReadFull(zr, px); err != nil {
		return matrix{}, fmt.Errorf("%s: %w", path, err)
	}
	m := matrix{rows: n, cols: dim, data: make([]float32, n*dim)}
	for i, p := range px {
		m.data[i] = float32(p)
	}
	return m, nil
}

// gaussianMixture draws n vectors of dimension dim around clusters
// centres (seeded), for scale runs.
func gaussianMixture(n, dim, clusters int, seed uint64) matrix {
	r := rand.New(rand.NewPCG(seed, seed^0xabcdef))
	centres := make([]float32, clusters*dim)
	for i := range centres {
		centres[i] = float32(r.NormFloat64())
	}
	m := matrix{rows: n, cols: dim, data: make([]float32, n*dim)}
	for i := range n {
		c := r.IntN(clusters)
		for j := range dim {
			m.data[i*dim+j] = centres[c*dim+j] + float32(r.NormFloat64()*0.35)
		}
	}
	return m
}

// groundTruth returns, for every query, the ids of its k nearest base
// vectors by exact squared L2 (ties by id), computed on all cores.
func groundTruth(base, queries matrix, k int) [][]int32 {
	out := make([][]int32, queries.rows)
	var next sync.Mutex
	qi := 0
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				i := qi
				qi++
				next.Unlock()
				if i >= queries.rows {
					return
				}
				out[i] = nearest(base, queries.row(i), k)
			}
		}()
	}
	wg.Wait()
	return out
}

func nearest(base matrix, q []float32, k int) []int32 {
	type hit struct {
		d  float32
		id int32
	}
	top := make([]hit, 0, k+1)
	for i := range base.rows {
		d := distance.L2Squared(q, base.row(i))
		if len(top) == k && d >= top[k-1].d {
			continue
		}
		j := len(top)
		top = append(top, hit{})
		for j > 0 && top[j-1].d > d {
			top[j] = top[j-1]
			j--
		}
		top[j] = hit{d, int32(i)}
		if len(top) > k {
			top = top[:k]
		}
	}
	ids := make([]int32, len(top))
	for i, h := range top {
		ids[i] = h.id
	}
	return ids
}

// dataset is a prepared directory loaded into memory.
type dataset struct {
	base, queries matrix
	truth         [][]int32
}

func loadDataset(dir string) (dataset, error) {
	var ds dataset
	var err error
	if ds.base, err = readFloats(filepath.Join(dir, baseFile)); err != nil {
		return ds, err
	}
	if ds.queries, err = readFloats(filepath.Join(dir, queryFile)); err != nil {
		return ds, err
	}
	rows, cols, words, err := readMatrix(filepath.Join(dir, truthFile))
	if err != nil {
		return ds, err
	}
	if rows != ds.queries.rows || ds.base.cols != ds.queries.cols {
		return ds, fmt.Errorf("%s: files do not agree", dir)
	}
	ds.truth = make([][]int32, rows)
	for i := range rows {
		ds.truth[i] = make([]int32, cols)
		for j := range cols {
			ds.truth[i][j] = int32(words[i*cols+j])
		}
	}
	return ds, nil
}
