package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/browse"
	"github.com/icevault/icevault/internal/catalog"
)

// Every command here reads the local catalog only: no bucket request, so
// they work offline and cost nothing.

func newSnapshotsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "snapshots",
		Short: "List snapshots (from the local catalog)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.openRepo(cmd.Context(), "snapshots", false)
			if err != nil {
				return err
			}
			defer h.Close()
			snaps, err := h.cat.Snapshots(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			if !a.json {
				fmt.Fprintln(tw, "ID\tTIME\tHOST\tFILES\tNEW DATA\tPATHS\tTAGS")
			}
			for _, s := range snaps {
				var sum backup.Summary
				_ = json.Unmarshal(s.Summary, &sum)
				if a.json {
					if err := a.emitJSON(map[string]any{"id": s.ID, "time": s.Time.UTC(), "host": s.Host, "paths": s.Paths,
						"tags": s.Tags, "root": s.Root.String(), "summary": s.Summary}); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", short(s.ID), s.Time.Local().Format("2006-01-02 15:04"), s.Host,
					sum.FilesNew+sum.FilesChanged+sum.FilesUnchanged, bytesize(sum.BytesAdded), strings.Join(s.Paths, ", "), strings.Join(s.Tags, ","))
			}
			if !a.json {
				tw.Flush()
				fmt.Fprintf(a.stdout, "%d snapshots\n", len(snaps))
			}
			return nil
		},
	}
}

func (a *app) findSnapshot(cmd *cobra.Command, h *repoHandle, ref string) (catalog.Snapshot, error) {
	s, err := h.cat.FindSnapshot(cmd.Context(), ref)
	if err != nil {
		return s, err
	}
	return s, nil
}

func (a *app) printEntry(tw *tabwriter.Writer, e browse.Entry, long bool) error {
	if a.json {
		return a.emitJSON(e)
	}
	name := e.Path
	if e.Type == "dir" {
		name += "/"
	}
	if e.Target != "" {
		name += " -> " + e.Target
	}
	if long {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Mode, bytesize(e.Size), e.MTime.Local().Format(time.DateTime), name)
	} else {
		fmt.Fprintln(tw, name)
	}
	return nil
}

func newLsCmd(a *app) *cobra.Command {
	var long, recursive bool
	cmd := &cobra.Command{
		Use:   "ls SNAPSHOT [PATH]",
		Short: "List a folder of a snapshot (SNAPSHOT: an ID prefix or \"latest\")",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := a.openRepo(cmd.Context(), "ls", false)
			if err != nil {
				return err
			}
			defer h.Close()
			s, err := a.findSnapshot(cmd, h, args[0])
			if err != nil {
				return err
			}
			p := "/"
			if len(args) == 2 {
				p = args[1]
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			defer tw.Flush()
			return browse.List(cmd.Context(), h.cat, s.Root, p, recursive, func(e browse.Entry) error { return a.printEntry(tw, e, long) })
		},
	}
	cmd.Flags().BoolVarP(&long, "long", "l", false, "show mode, size and modification time")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "list everything below PATH")
	return cmd
}

func newFindCmd(a *app) *cobra.Command {
	var snap string
	cmd := &cobra.Command{
		Use:   "find PATTERN",
		Short: "Find files by name in every snapshot (or one, with --snapshot)",
		Long: `Find entries whose name matches PATTERN (a shell glob: *, ?, [abc]); a pattern
with a "/" matches the whole path. Searches all snapshots, newest first, unless
--snapshot names one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := a.openRepo(cmd.Context(), "find", false)
			if err != nil {
				return err
			}
			defer h.Close()
			var snaps []catalog.Snapshot
			if snap != "" {
				s, err := a.findSnapshot(cmd, h, snap)
				if err != nil {
					return err
				}
				snaps = []catalog.Snapshot{s}
			} else if snaps, err = h.cat.Snapshots(cmd.Context()); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			defer tw.Flush()
			found := 0
			for i := len(snaps) - 1; i >= 0; i-- {
				s := snaps[i]
				err := browse.Find(cmd.Context(), h.cat, s.Root, args[0], func(e browse.Entry) error {
					found++
					if a.json {
						return a.emitJSON(map[string]any{"snapshot": s.ID, "time": s.Time.UTC(), "entry": e})
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", short(s.ID), s.Time.Local().Format("2006-01-02 15:04"), bytesize(e.Size), e.Path)
					return nil
				})
				if err != nil {
					return usageError{err}
				}
			}
			if found == 0 && !a.json {
				fmt.Fprintf(a.stderr, "no match for %q in %d snapshots\n", args[0], len(snaps))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&snap, "snapshot", "", "search only this snapshot")
	return cmd
}

func newDiffCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "diff SNAPSHOT1 SNAPSHOT2",
		Short: "Show what changed between two snapshots (+ added, - removed, M modified, T type, m metadata)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := a.openRepo(cmd.Context(), "diff", false)
			if err != nil {
				return err
			}
			defer h.Close()
			s1, err := a.findSnapshot(cmd, h, args[0])
			if err != nil {
				return err
			}
			s2, err := a.findSnapshot(cmd, h, args[1])
			if err != nil {
				return err
			}
			var added, removed, modified int
			err = browse.Diff(cmd.Context(), h.cat, s1.Root, s2.Root, func(c browse.Change) error {
				switch c.Op {
				case "+":
					added++
				case "-":
					removed++
				default:
					modified++
				}
				if a.json {
					return a.emitJSON(c)
				}
				suffix := ""
				if c.Type == "dir" {
					suffix = "/"
				}
				fmt.Fprintf(a.stdout, "%s  %s%s\n", c.Op, c.Path, suffix)
				return nil
			})
			if err != nil {
				return err
			}
			if !a.json {
				fmt.Fprintf(a.stdout, "%d added, %d removed, %d changed\n", added, removed, modified)
			}
			return nil
		},
	}
}
