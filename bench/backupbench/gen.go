package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// genVersion changes whenever the generator's output for the same
// parameters changes, so old data sets are regenerated.
const genVersion = 1

// genParams define a data set; equal parameters give byte-identical files.
type genParams struct {
	Version    int    `json:"version"`
	Seed       uint64 `json:"seed"`
	Small      int    `json:"small"`       // number of small files
	SmallMin   int    `json:"small_min"`   // bytes
	SmallMax   int    `json:"small_max"`   // bytes; sizes are log-uniform in [min, max]
	PerDir     int    `json:"per_dir"`     // small files per leaf folder
	LargeMiB   int    `json:"large_mib"`   // total incompressible large-file MiB
	LargeFiles int    `json:"large_files"` // split over this many files
	TextMiB    int    `json:"text_mib"`    // one compressible large file (log-like text)
}

// manifest is written last, so its presence means the data set is complete.
type manifest struct {
	Params     genParams `json:"params"`
	Files      int64     `json:"files"`
	Dirs       int64     `json:"dirs"`
	Bytes      int64     `json:"bytes"`
	SmallBytes int64     `json:"small_bytes"`
	TextBytes  int64     `json:"text_bytes"` // compressible bytes (half the small files, the text file)
	RandBytes  int64     `json:"random_bytes"`
	Seconds    float64   `json:"generate_seconds"`
}

func genMain(args []string) error {
	fl := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fl.String("dir", "", "data set directory (files go to DIR/tree, the manifest to DIR/manifest.json)")
	p := genParams{Version: genVersion}
	fl.Uint64Var(&p.Seed, "seed", 1, "random seed")
	fl.IntVar(&p.Small, "small", 20000, "number of small files (half compressible text, half random)")
	fl.IntVar(&p.SmallMin, "small-min", 100, "smallest small file, bytes")
	fl.IntVar(&p.SmallMax, "small-max", 64<<10, "largest small file, bytes (sizes are log-uniform; mean ≈ (max-min)/ln(max/min))")
	fl.IntVar(&p.PerDir, "per-dir", 100, "small files per leaf folder")
	fl.IntVar(&p.LargeMiB, "large-mib", 1024, "total MiB of large incompressible files")
	fl.IntVar(&p.LargeFiles, "large-files", 4, "number of large incompressible files")
	fl.IntVar(&p.TextMiB, "text-mib", 64, "MiB of one large compressible text file (0: none)")
	fl.Parse(args)
	if *dir == "" {
		return errors.New("-dir is required")
	}
	if p.SmallMin < 1 || p.SmallMax < p.SmallMin || p.PerDir < 1 || p.LargeFiles < 1 || p.LargeMiB < 0 || p.TextMiB < 0 || p.Small < 0 {
		return errors.New("bad size parameters")
	}
	mpath := filepath.Join(*dir, "manifest.json")
	if old, err := readManifest(mpath); err == nil && old.Params == p {
		fmt.Printf("data set %s is up to date: %d files, %.1f MiB (seed %d)\n", *dir, old.Files, float64(old.Bytes)/(1<<20), p.Seed)
		return nil
	}
	// Never delete a folder this tool did not make: only an empty folder,
	// or one holding a manifest (an older or partial data set), is reused.
	if ents, err := os.ReadDir(*dir); err == nil && len(ents) > 0 {
		if _, err := os.Stat(mpath); err != nil {
			if _, err := os.Stat(filepath.Join(*dir, ".backupbench")); err != nil {
				return fmt.Errorf("%s is not empty and holds no backupbench data set; refusing to overwrite it", *dir)
			}
		}
	}
	os.Remove(mpath)
	if err := os.RemoveAll(filepath.Join(*dir, "tree")); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(*dir, "tree"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, ".backupbench"), []byte("a backupbench data set is being generated here\n"), 0o644); err != nil {
		return err
	}
	start := time.Now()
	m, err := generate(filepath.Join(*dir, "tree"), p)
	if err != nil {
		return err
	}
	m.Seconds = time.Since(start).Seconds()
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(mpath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("generated %s: %d files in %d folders, %.1f MiB (%.1f MiB random, %.1f MiB text) in %.1fs\n",
		*dir, m.Files, m.Dirs, float64(m.Bytes)/(1<<20), float64(m.RandBytes)/(1<<20), float64(m.TextBytes)/(1<<20), m.Seconds)
	return nil
}

func readManifest(path string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

// rngFor returns the random stream of one file, independent of the order
// files are written in (they are written in parallel).
func rngFor(seed uint64, kind string, i int) *rand.ChaCha8 {
	var in [8 + 8 + 16]byte
	binary.LittleEndian.PutUint64(in[0:], seed)
	binary.LittleEndian.PutUint64(in[8:], uint64(i))
	copy(in[16:], kind)
	return rand.NewChaCha8(sha256.Sum256(in[:]))
}

// smallDir places small file i: leaf folders of PerDir files, 16 leaves per
// middle folder, nested three deep (small/007/03/00123/f0012345.txt).
func smallDir(p genParams, i int) string {
	k := i / p.PerDir
	return filepath.Join("small", fmt.Sprintf("%03d", k/256), fmt.Sprintf("%02d", (k/16)%16), fmt.Sprintf("%05d", k))
}

func smallSize(p genParams, r *rand.Rand) int {
	lo, hi := math.Log(float64(p.SmallMin)), math.Log(float64(p.SmallMax))
	return int(math.Exp(lo + r.Float64()*(hi-lo)))
}

func generate(root string, p genParams) (manifest, error) {
	m := manifest{Params: p}
	var files, dirs, small, text, random atomic.Int64

	// Folders first, in one goroutine, so the writers never race on MkdirAll.
	made := map[string]bool{}
	mkdir := func(d string) error {
		if made[d] {
			return nil
		}
		made[d] = true
		return os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	for i := 0; i < p.Small; i += p.PerDir {
		if err := mkdir(smallDir(p, i)); err != nil {
			return m, err
		}
	}
	if p.LargeMiB > 0 || p.TextMiB > 0 {
		if err := mkdir("large"); err != nil {
			return m, err
		}
	}
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs.Add(1)
		}
		return err
	})
	if err != nil {
		return m, err
	}

	// Small files: creating them is syscall-bound, so more writers than cores.
	workers := 2 * runtime.GOMAXPROCS(0)
	idx := make(chan int, 1024)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, p.SmallMax)
			for i := range idx {
				src := rngFor(p.Seed, "small", i)
				r := rand.New(src)
				n := smallSize(p, r)
				name := fmt.Sprintf("f%07d", i)
				if i%2 == 0 {
					fillText(buf[:n], r)
					name += ".txt"
					text.Add(int64(n))
				} else {
					src.Read(buf[:n])
					name += ".bin"
					random.Add(int64(n))
				}
				if err := os.WriteFile(filepath.Join(root, smallDir(p, i), name), buf[:n], 0o644); err != nil {
					fail(err)
				}
				small.Add(int64(n))
				files.Add(1)
			}
		}()
	}
	// Large files alongside: one goroutine each.
	largeSize := int64(0)
	if p.LargeFiles > 0 {
		largeSize = int64(p.LargeMiB) << 20 / int64(p.LargeFiles)
	}
	for j := 0; j < p.LargeFiles && largeSize > 0; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := writeStream(filepath.Join(root, "large", fmt.Sprintf("big%02d.bin", j)), largeSize, rngFor(p.Seed, "large", j))
			if err != nil {
				fail(err)
			}
			random.Add(largeSize)
			files.Add(1)
		}()
	}
	if p.TextMiB > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := writeLog(filepath.Join(root, "large", "text.log"), int64(p.TextMiB)<<20, p.Seed); err != nil {
				fail(err)
			}
			text.Add(int64(p.TextMiB) << 20)
			files.Add(1)
		}()
	}
	for i := range p.Small {
		idx <- i
	}
	close(idx)
	wg.Wait()
	if firstErr != nil {
		return m, firstErr
	}
	m.Files, m.Dirs, m.SmallBytes, m.TextBytes, m.RandBytes = files.Load(), dirs.Load(), small.Load(), text.Load(), random.Load()
	m.Bytes = m.TextBytes + m.RandBytes
	return m, nil
}

// writeStream writes size random bytes from src to path.
func writeStream(path string, size int64, src *rand.ChaCha8) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		src.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	return f.Close()
}

// vocabulary is a fixed word list; text drawn from it compresses about 3:1
// with zstd's fastest level, like source code or prose.
var vocabulary = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his from
at which but have an they you were her she there been one all we their has would when if so no will more can out
up into some could them time than other then its only two may these like new first any my now such also over
backup archive glacier deep bucket object pack blob chunk tree snapshot catalog restore thaw upload request policy
func return error context string int64 byte slice map struct interface package import const var range select case
default switch break continue goto defer chan go type nil true false append copy len cap make new panic recover
photo video document invoice report budget meeting project schedule client server network storage memory disk`)

// fillText fills b with lines of words.
func fillText(b []byte, r *rand.Rand) {
	i, col := 0, 0
	for i < len(b) {
		w := vocabulary[r.IntN(len(vocabulary))]
		if col > 0 {
			if col+len(w) >= 80 {
				b[i] = '\n'
				col = 0
			} else {
				b[i] = ' '
				col++
			}
			i++
		}
		i += copy(b[i:], w)
		col += len(w)
	}
}

// writeLog writes a log-like text file: timestamps, levels, words, numbers.
func writeLog(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rngFor(seed, "log", 0))
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	levels := []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
	var written int64
	line := make([]byte, 0, 256)
	for written < size {
		t = t.Add(time.Duration(r.IntN(2000)) * time.Millisecond)
		line = t.AppendFormat(line[:0], "2006-01-02T15:04:05.000Z ")
		line = append(line, levels[r.IntN(len(levels))]...)
		line = fmt.Appendf(line, " req=%08x", r.Uint32())
		for range 4 + r.IntN(8) {
			line = append(line, ' ')
			line = append(line, vocabulary[r.IntN(len(vocabulary))]...)
		}
		line = fmt.Appendf(line, " bytes=%d ms=%d\n", r.IntN(1<<20), r.IntN(5000))
		if rem := size - written; int64(len(line)) > rem {
			line = line[:rem]
		}
		if _, err := w.Write(line); err != nil {
			f.Close()
			return err
		}
		written += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
