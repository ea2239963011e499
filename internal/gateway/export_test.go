package gateway

// Die stops a recorder as if its task died: its recordings are left as they are (no last
// checkpoint, no release), and their leases run out.
func (rc *Recorder) Die() {
	for _, j := range rc.snapshot() {
		j.stop(end{kind: endAbandon, reason: "the task died"})
	}
	rc.jobs.Wait()
}
