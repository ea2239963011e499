package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Session users. Each home gets its own uid (and a private group of the same number), which
// runs the application, and each session a display uid, which runs Xvfb and x11vnc, from a range no account database hands out: above the
// container ranges systemd assigns (up to 0x6FFFFFFF) and below its foreign/nobody ranges. No
// /etc/passwd entry is needed: Xvfb, x11vnc, xterm, Firefox and Chromium run without one.
const (
	uidBase  = 0x70000000
	uidCount = 1 << 20
)

// users remembers the uids of one runtime folder's homes and sessions in <runtime>/uids.json.
type users struct {
	path string
	mu   sync.Mutex
	st   struct {
		IDs map[string]uint32 `json:"ids"` // holder ("home:<path under the runtime folder>", "display:<session id>") → uid
	}
	loaded bool
}

// machineUIDs counts the session uids handed out on this machine, by every stack (make run,
// test stacks, each with its own runtime folder): a uid is never handed out twice, not even
// after its home is gone, so files a session left outside its home (in /tmp) or another
// stack's homes can never become another session's.
var machineUIDs = "/var/lib/streamspace/session-uids"

// nextUID takes the next uid from the machine's counter, under an exclusive lock.
func nextUID() (uint32, error) {
	if err := os.MkdirAll(filepath.Dir(machineUIDs), 0o700); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(machineUIDs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return 0, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	var next uint32
	if s := strings.TrimSpace(string(b)); s != "" {
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", machineUIDs, err)
		}
		next = uint32(v)
	}
	if next >= uidCount {
		return 0, fmt.Errorf("all %d session uids have been handed out on this machine (%s)", uidCount, machineUIDs)
	}
	if err := f.Truncate(0); err != nil {
		return 0, err
	}
	if _, err := f.WriteAt([]byte(strconv.FormatUint(uint64(next+1), 10)+"\n"), 0); err != nil {
		return 0, err
	}
	return uidBase + next, f.Sync()
}

// get returns the holder's uid, handing out a new one on first use.
func (u *users) get(holder string) (*syscall.Credential, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.load(); err != nil {
		return nil, err
	}
	id, ok := u.st.IDs[holder]
	if !ok {
		var err error
		if id, err = nextUID(); err != nil {
			return nil, err
		}
		u.st.IDs[holder] = id
		if err := u.save(); err != nil {
			return nil, err
		}
	}
	return &syscall.Credential{Uid: id, Gid: id, Groups: []uint32{}}, nil
}

// release forgets holders (their uids stay retired).
func (u *users) release(holders ...string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.load(); err != nil {
		return err
	}
	for _, h := range holders {
		delete(u.st.IDs, h)
	}
	return u.save()
}

func (u *users) load() error {
	if u.loaded {
		return nil
	}
	b, err := os.ReadFile(u.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &u.st); err != nil {
			return fmt.Errorf("%s: %w", u.path, err)
		}
	}
	if u.st.IDs == nil {
		u.st.IDs = map[string]uint32{}
	}
	u.loaded = true
	return nil
}

func (u *users) save() error {
	b, err := json.MarshalIndent(u.st, "", " ")
	if err != nil {
		return err
	}
	tmp := u.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, u.path)
}

// ownTree makes uid the owner of a home it does not own yet: a home made before session users
// existed, or whose uid record was lost. It runs before any process of that uid does, so no
// session can swap folders for links during the walk; links are changed, never followed.
func ownTree(dir string, c *syscall.Credential) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == c.Uid && st.Gid == c.Gid {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(c.Uid), int(c.Gid))
	})
}
