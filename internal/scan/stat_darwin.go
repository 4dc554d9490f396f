//go:build darwin

package scan

import "golang.org/x/sys/unix"

// Darwin has no O_NOATIME.
const openNoAtime = 0

func fillFromStat(e *Entry, st *unix.Stat_t) {
	e.Size = st.Size
	e.MtimeNs = st.Mtim.Nano()
	e.CtimeNs = st.Ctim.Nano()
	e.Inode = st.Ino
	// dev_t is a signed 32-bit integer on Darwin: go through uint32 so
	// a negative value is not sign-extended.
	e.Dev = uint64(uint32(st.Dev))
	e.Nlink = uint64(st.Nlink)
	e.UID = st.Uid
	e.GID = st.Gid
	e.Rdev = uint64(uint32(st.Rdev))
}
