package desktop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// WriteXAuthority writes an X authority file holding one MIT-MAGIC-COOKIE-1 for any host and
// any display number (FamilyWild, empty number): the file is written before Xvfb picks its
// display. Format: libXau's, big-endian counted strings.
func WriteXAuthority(path string, cookie []byte, owner *syscall.Credential) error {
	var b bytes.Buffer
	field := func(s []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint16(len(s)))
		b.Write(s)
	}
	_ = binary.Write(&b, binary.BigEndian, uint16(0xffff)) // FamilyWild
	field(nil)                                             // address
	field(nil)                                             // display number
	field([]byte("MIT-MAGIC-COOKIE-1"))
	field(cookie)
	return writePrivate(path, b.Bytes(), owner)
}

// writePrivate writes a new file of mode 0600 owned by owner (nil: this process's user). The
// folder may belong to the session's user, who could have left a symlink where the file goes:
// whatever is there is removed and the file is created exclusively, never through a link.
func writePrivate(path string, body []byte, owner *syscall.Credential) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if owner != nil {
		if err := f.Chown(int(owner.Uid), int(owner.Gid)); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// userNamespaces reports whether user may create a user namespace, which Chromium's sandbox
// needs: util-linux's unshare tries, as that user.
func userNamespaces(user *syscall.Credential) bool {
	cmd := exec.Command("unshare", "--user", "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: user}
	return cmd.Run() == nil
}
