//go:build linux

package scan

import "golang.org/x/sys/unix"

// openNoAtime keeps backups from updating every file's access time.
const openNoAtime = unix.O_NOATIME

func fillFromStat(e *Entry, st *unix.Stat_t) {
	e.Size = st.Size
	e.MtimeNs = st.Mtim.Nano()
	e.CtimeNs = st.Ctim.Nano()
	e.Inode = st.Ino
	e.Dev = st.Dev
	e.Nlink = uint64(st.Nlink)
	e.UID = st.Uid
	e.GID = st.Gid
	e.Rdev = st.Rdev
}
