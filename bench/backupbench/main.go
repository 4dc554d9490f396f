// Command backupbench measures icevault's backup engine end to end against
// the Deep Archive simulator: throughput, peak RSS and PutObjects per GiB
// (issue 3, "Measure").
//
//	backupbench gen   -dir D [-seed 1] [-small 20000] [-large-mib 1024] ...
//	backupbench run   -data D [-pack-mib 128] [-cpuprofile f] ...
//	backupbench table results.jsonl
//
// gen writes a deterministic data set under D/tree and D/manifest.json; it
// does nothing if the manifest already matches the parameters. run starts
// `icevault sim` as a separate process (so the simulator's memory and CPU
// are not counted as the backup's), initialises a repository, runs one
// initial backup and one no-change backup of D/tree, and prints readable
// lines followed by one JSON line. table prints the JSON lines of several
// runs as a table. bench/run.sh drives all three.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = genMain(os.Args[2:])
	case "run":
		err = runMain(os.Args[2:])
	case "table":
		err = tableMain(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "backupbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: backupbench gen|run|table [flags]  (-h for flags)")
	os.Exit(2)
}
