package blob

import (
	"syscall"

	"github.com/hypha-iot/hypha/errs"
	"golang.org/x/sys/unix"
)

// checkRoom reports an errs.ErrStorage error unless the file system holding
// dir is writable and keeps at least need bytes free.
func checkRoom(dir string, need int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return errs.ErrStorage.WithCause(err, "statfs %s", dir)
	}
	if st.Flags&unix.ST_RDONLY != 0 {
		return errs.ErrStorage.WithCause(syscall.EROFS, "datastore %s", dir)
	}
	avail := int64(st.Bavail) * st.Bsize
	if avail < need {
		return errs.ErrStorage.WithCause(syscall.ENOSPC,
			"datastore %s: %d bytes free, this write needs %d (including the reserve kept for the database)", dir, avail, need)
	}
	return nil
}
