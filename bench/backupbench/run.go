package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/store/s3store"
)

// memSecrets keeps the repository's secrets in memory: the benchmark never
// restores, and must not touch the OS keychain.
type memSecrets struct {
	identity string
	key      [32]byte
}

func (m *memSecrets) SaveSecrets(_, identity string, key [32]byte) error {
	m.identity, m.key = identity, key
	return nil
}

// benchStore is what init, backup and the object count need of the bucket.
type benchStore interface {
	Head(ctx context.Context, key string) (store.ObjectInfo, error)
	Put(ctx context.Context, p store.PutRequest) (store.PutResult, error)
	List(ctx context.Context, prefix string) iter.Seq2[store.ObjectInfo, error]
}

// discardStore reads every object once, as a network upload would, and
// keeps only its key and size: the engine's throughput without the
// simulator's CPU (SigV4 payload hashing, checksum, fsync) on the same cores.
type discardStore struct {
	mu   sync.Mutex
	objs []store.ObjectInfo
}

func (d *discardStore) Head(context.Context, string) (store.ObjectInfo, error) {
	return store.ObjectInfo{}, store.ErrNotFound
}

func (d *discardStore) Put(_ context.Context, p store.PutRequest) (store.PutResult, error) {
	if _, err := p.Body.Seek(0, io.SeekStart); err != nil {
		return store.PutResult{}, err
	}
	buf := make([]byte, 1<<20)
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{p.Body}, buf)
	if err != nil {
		return store.PutResult{}, err
	}
	if n != p.Size {
		return store.PutResult{}, fmt.Errorf("put %s: body has %d bytes, want %d", p.Key, n, p.Size)
	}
	d.mu.Lock()
	d.objs = append(d.objs, store.ObjectInfo{Key: p.Key, Size: n})
	d.mu.Unlock()
	return store.PutResult{}, nil
}

func (d *discardStore) List(_ context.Context, prefix string) iter.Seq2[store.ObjectInfo, error] {
	d.mu.Lock()
	objs := slices.Clone(d.objs)
	d.mu.Unlock()
	return func(yield func(store.ObjectInfo, error) bool) {
		for _, o := range objs {
			if strings.HasPrefix(o.Key, prefix) && !yield(o, nil) {
				return
			}
		}
	}
}

// phase is one backup run's measurements.
type phase struct {
	WallSeconds  float64        `json:"wall_seconds"`
	MBps         float64        `json:"mb_per_s"` // bytes read / wall time, 10^6 bytes
	CPUSeconds   float64        `json:"cpu_seconds"`
	Files        int64          `json:"files"` // new + changed + unchanged
	Packs        int64          `json:"packs"`
	PutObjects   int64          `json:"put_objects"` // from the summary
	PutsPerGiB   float64        `json:"puts_per_gib_uploaded"`
	ListedNew    int            `json:"listed_new_objects"` // objects that appeared in the bucket (ListObjectsV2)
	ListedBytes  int64          `json:"listed_new_bytes"`
	PeakRSSMiB   float64        `json:"peak_rss_mib"` // ru_maxrss so far (it never goes down)
	HeapInuseMiB float64        `json:"heap_inuse_mib_after"`
	Summary      backup.Summary `json:"summary"`
}

// result is the final JSON line of one run.
type result struct {
	Bench       string    `json:"bench"`
	Label       string    `json:"label"`
	Store       string    `json:"store"` // sim or discard
	Data        string    `json:"data"`
	DataFiles   int64     `json:"data_files"`
	DataBytes   int64     `json:"data_bytes"`
	RandomBytes int64     `json:"data_random_bytes"`
	PackMiB     int64     `json:"pack_mib"`
	Readers     int       `json:"readers"`
	Uploaders   int       `json:"uploaders"`
	Machine     machine   `json:"machine"`
	LoadBefore  string    `json:"loadavg_before"`
	LoadAfter   string    `json:"loadavg_after"`
	BaselineMBs float64   `json:"baseline_read_mb_per_s,omitempty"`
	Initial     phase     `json:"initial"`
	Rerun       *phase    `json:"rerun,omitempty"`
	SimCPU      float64   `json:"sim_cpu_seconds"`
	SimRSSMiB   float64   `json:"sim_peak_rss_mib"`
	Time        time.Time `json:"time"`
}

type machine struct {
	CPUs   int    `json:"cpus"`
	Model  string `json:"cpu_model"`
	MemGiB int64  `json:"mem_gib"`
	Go     string `json:"go"`
}

func runMain(args []string) error {
	fl := flag.NewFlagSet("run", flag.ExitOnError)
	data := fl.String("data", "", "data set directory made by gen (backs up DATA/tree)")
	label := fl.String("label", "", "name of this run in the results")
	bin := fl.String("icevault", "", "icevault binary for the simulator (default: go build ./cmd/icevault into the work dir)")
	workRoot := fl.String("work", "", "where the temporary work dir (catalog, spool, simulator storage) goes (default $TMPDIR)")
	keep := fl.Bool("keep", false, "keep the work dir")
	packMiB := fl.Int64("pack-mib", 128, "pack size, MiB")
	readers := fl.Int("readers", 0, "backup.Options.Readers (0: the engine's default)")
	uploaders := fl.Int("uploaders", 0, "backup.Options.Uploaders (0: the engine's default)")
	rerun := fl.Bool("rerun", true, "run a second, no-change backup")
	baseline := fl.Bool("baseline", false, "first read every file once with 2 readers and report that rate (page cache / disk ceiling)")
	cpuprofile := fl.String("cpuprofile", "", "write a CPU profile of the initial backup here")
	rerunProfile := fl.String("rerun-cpuprofile", "", "write a CPU profile of the no-change backup here")
	memprofile := fl.String("memprofile", "", "write a heap profile (in use after the initial backup) here")
	storeKind := fl.String("store", "sim", "sim: the simulator in its own process; discard: read each pack once and drop it (the engine alone, no simulator CPU)")
	fl.Parse(args)
	if *data == "" {
		return errors.New("-data is required")
	}
	m, err := readManifest(filepath.Join(*data, "manifest.json"))
	if err != nil {
		return fmt.Errorf("no data set at %s (run gen first): %w", *data, err)
	}
	src, err := filepath.Abs(filepath.Join(*data, "tree"))
	if err != nil {
		return err
	}
	if *label == "" {
		*label = filepath.Base(*data)
	}
	res := result{Bench: "icevault-backup", Label: *label, Data: src, DataFiles: m.Files, DataBytes: m.Bytes,
		RandomBytes: m.RandBytes, PackMiB: *packMiB, Readers: *readers, Uploaders: *uploaders,
		Machine: describeMachine(), LoadBefore: loadavg(), Time: time.Now().UTC()}

	work, err := os.MkdirTemp(*workRoot, "backupbench-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	ctx := context.Background()

	if *bin == "" && *storeKind == "sim" {
		*bin = filepath.Join(work, "icevault")
		out, err := exec.Command("go", "build", "-o", *bin, "github.com/icevault/icevault/cmd/icevault").CombinedOutput()
		if err != nil {
			return fmt.Errorf("building icevault: %v\n%s", err, out)
		}
	}
	var st benchStore
	var simProc *exec.Cmd
	switch *storeKind {
	case "sim":
		var endpoint string
		simProc, endpoint, err = startSim(*bin, work)
		if err != nil {
			return err
		}
		defer func() {
			if simProc != nil {
				stopSim(simProc)
			}
		}()
		client, err := s3store.NewClient(aws.Config{Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider(sim.DefaultAccessKey, sim.DefaultSecretKey, "")},
			s3store.ClientOptions{Endpoint: endpoint})
		if err != nil {
			return err
		}
		st = s3store.New(client, "bench", s3store.Options{})
	case "discard":
		st = &discardStore{}
	default:
		return fmt.Errorf("-store %q: want sim or discard", *storeKind)
	}
	res.Store = *storeKind
	cat, err := catalog.Open(ctx, filepath.Join(work, "catalog.db"))
	if err != nil {
		return err
	}
	defer cat.Close()
	layout, err := repo.NewLayout("icevault/", "bench")
	if err != nil {
		return err
	}
	r, _, err := repo.Init(ctx, st, cat, &memSecrets{}, repo.InitOptions{Bucket: "bench", Layout: layout,
		PackSize: *packMiB << 20, Now: time.Now()})
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}

	if *baseline {
		res.BaselineMBs, err = readAll(src, 2)
		if err != nil {
			return err
		}
		fmt.Printf("baseline: reading every file with 2 readers: %.0f MB/s\n", res.BaselineMBs)
	}

	listed := func() (int, int64, error) {
		n, size := 0, int64(0)
		for o, err := range st.List(ctx, layout.Root) {
			if err != nil {
				return 0, 0, err
			}
			n++
			size += o.Size
		}
		return n, size, nil
	}
	before, beforeBytes, err := listed()
	if err != nil {
		return fmt.Errorf("listing the bucket: %w", err)
	}

	opts := backup.Options{Paths: []string{src}, Host: "bench", SpoolDir: filepath.Join(work, "spool"),
		Readers: *readers, Uploaders: *uploaders}
	runPhase := func(name, profile string) (phase, error) {
		var p phase
		if profile != "" {
			f, err := os.Create(profile)
			if err != nil {
				return p, err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return p, err
			}
			defer pprof.StopCPUProfile()
		}
		cpu0 := cpuSeconds()
		t0 := time.Now()
		sum, err := backup.Run(ctx, r, cat, st, opts)
		wall := time.Since(t0).Seconds()
		if err != nil {
			return p, fmt.Errorf("%s backup: %w", name, err)
		}
		p = phase{WallSeconds: wall, CPUSeconds: cpuSeconds() - cpu0, Summary: sum,
			Files: sum.FilesNew + sum.FilesChanged + sum.FilesUnchanged, Packs: sum.Packs, PutObjects: sum.PutRequests,
			MBps: float64(sum.BytesRead) / 1e6 / wall, PeakRSSMiB: peakRSSMiB()}
		if sum.BytesUploaded > 0 {
			p.PutsPerGiB = float64(sum.PutRequests) / (float64(sum.BytesUploaded) / (1 << 30))
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		p.HeapInuseMiB = float64(ms.HeapInuse) / (1 << 20)
		after, afterBytes, err := listed()
		if err != nil {
			return p, fmt.Errorf("listing the bucket: %w", err)
		}
		p.ListedNew, p.ListedBytes = after-before, afterBytes-beforeBytes
		before, beforeBytes = after, afterBytes
		return p, nil
	}

	res.Initial, err = runPhase("initial", *cpuprofile)
	if err != nil {
		return err
	}
	printPhase("initial", res.Initial)
	if *memprofile != "" {
		f, err := os.Create(*memprofile)
		if err != nil {
			return err
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	if *rerun {
		p, err := runPhase("no-change", *rerunProfile)
		if err != nil {
			return err
		}
		res.Rerun = &p
		printPhase("no-change", p)
	}
	if simProc != nil {
		res.SimCPU, res.SimRSSMiB = stopSim(simProc)
		simProc = nil
		fmt.Printf("  simulator (separate process): %.1f s CPU, peak RSS %.0f MiB\n", res.SimCPU, res.SimRSSMiB)
	}
	res.LoadAfter = loadavg()
	fmt.Printf("  load average before %s, after %s\n", res.LoadBefore, res.LoadAfter)
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Printf("%s\n", b)
	return nil
}

func printPhase(name string, p phase) {
	s := p.Summary
	fmt.Printf("%s backup: %.2f s wall, %.1f s CPU (%.2f cores), %.1f MB/s (%.1f MiB read)\n",
		name, p.WallSeconds, p.CPUSeconds, p.CPUSeconds/p.WallSeconds, p.MBps, float64(s.BytesRead)/(1<<20))
	fmt.Printf("  files %d (new %d, changed %d, unchanged %d), dirs %d, warnings %d\n",
		p.Files, s.FilesNew, s.FilesChanged, s.FilesUnchanged, s.Dirs, s.Warnings)
	fmt.Printf("  added %.1f MiB, uploaded %.1f MiB in %d packs, %d PutObjects (%.2f per GiB uploaded); bucket listing: %d new objects, %.1f MiB\n",
		float64(s.BytesAdded)/(1<<20), float64(s.BytesUploaded)/(1<<20), p.Packs, p.PutObjects, p.PutsPerGiB, p.ListedNew, float64(p.ListedBytes)/(1<<20))
	if int64(p.ListedNew) != p.PutObjects {
		fmt.Printf("  WARNING: the summary counts %d PutObjects but %d new objects appeared in the bucket\n", p.PutObjects, p.ListedNew)
	}
	fmt.Printf("  peak RSS so far %.1f MiB, heap in use after %.1f MiB\n", p.PeakRSSMiB, p.HeapInuseMiB)
	b, _ := json.Marshal(s)
	fmt.Printf("  summary %s\n", b)
}

// startSim runs `icevault sim` on a free loopback port, storing objects in
// work/sim, and waits until it accepts connections.
func startSim(bin, work string) (*exec.Cmd, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.Create(filepath.Join(work, "sim.log"))
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "sim", "--listen", addr, "--dir", filepath.Join(work, "sim"), "--bucket", "bench", "--policy")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, "", fmt.Errorf("starting the simulator: %w", err)
	}
	logf.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return cmd, "http://" + addr, nil
		}
		if time.Now().After(deadline) {
			stopSim(cmd)
			log, _ := os.ReadFile(filepath.Join(work, "sim.log"))
			return nil, "", fmt.Errorf("the simulator did not start on %s: %s", addr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopSim interrupts the simulator and returns its CPU seconds and peak RSS.
func stopSim(cmd *exec.Cmd) (cpu, rssMiB float64) {
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = tv(ru.Utime) + tv(ru.Stime)
		rssMiB = float64(ru.Maxrss) / 1024
	}
	return cpu, rssMiB
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return tv(ru.Utime) + tv(ru.Stime)
}

// peakRSSMiB is ru_maxrss, which Linux reports in KiB.
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemGiB = (kb + 1<<19) >> 20
			}
		}
	}
	return m
}

// readAll reads every regular file under root with n readers and returns
// the rate: the ceiling no backup of this data set can beat here.
func readAll(root string, n int) (float64, error) {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	var next, total atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, n)
	t0 := time.Now()
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(paths) {
					return
				}
				f, err := os.Open(paths[i])
				if err != nil {
					errs[w] = err
					return
				}
				k, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
				f.Close()
				if err != nil {
					errs[w] = err
					return
				}
				total.Add(k)
			}
		}()
	}
	wg.Wait()
	return float64(total.Load()) / 1e6 / time.Since(t0).Seconds(), errors.Join(errs...)
}

// tableMain prints result JSON lines (from run, possibly mixed with other
// output) as a table.
func tableMain(args []string) error {
	var rows []result
	for _, path := range args {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r result
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Bench == "icevault-backup" {
				rows = append(rows, r)
			}
		}
		f.Close()
	}
	fmt.Printf("%-12s %9s %8s %8s %8s %6s %6s %8s %7s %8s %6s %8s %9s %s\n",
		"run", "files", "GiB", "wall s", "MB/s", "packs", "PUTs", "PUT/GiB", "listed", "rerun s", "r-PUTs", "RSS MiB", "sim CPU s", "load before→after")
	for _, r := range rows {
		i := r.Initial
		rw, rp := "-", "-"
		if r.Rerun != nil {
			rw, rp = fmt.Sprintf("%.2f", r.Rerun.WallSeconds), strconv.FormatInt(r.Rerun.PutObjects, 10)
		}
		rss := i.PeakRSSMiB
		if r.Rerun != nil && r.Rerun.PeakRSSMiB > rss {
			rss = r.Rerun.PeakRSSMiB
		}
		fmt.Printf("%-12s %9d %8.2f %8.2f %8.1f %6d %6d %8.2f %7d %8s %6s %8.0f %9.1f %s → %s\n",
			r.Label, i.Files, float64(i.Summary.BytesRead)/(1<<30), i.WallSeconds, i.MBps, i.Packs, i.PutObjects,
			i.PutsPerGiB, i.ListedNew, rw, rp, rss, r.SimCPU, r.LoadBefore, r.LoadAfter)
	}
	return nil
}
