package imageref

import "testing"

func TestResolve(t *testing.T) {
	const reg = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
	for _, c := range []struct{ image, registry, want string }{
		{"streamspace/terminal", reg, reg + "/streamspace/terminal"},
		{"streamspace/gimp:1.2", reg + "/", reg + "/streamspace/gimp:1.2"},
		{"streamspace/terminal", "", "streamspace/terminal"},                // no registry: as written
		{"lscr.io/linuxserver/firefox", reg, "lscr.io/linuxserver/firefox"}, // not ours
		{"streamspacex/terminal", reg, "streamspacex/terminal"},
		{"docker.io/streamspace/terminal", reg, "docker.io/streamspace/terminal"},
	} {
		if got := Resolve(c.image, c.registry); got != c.want {
			t.Errorf("Resolve(%q, %q) = %q, want %q", c.image, c.registry, got, c.want)
		}
	}
}
