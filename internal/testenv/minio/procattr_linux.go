package minio

import "syscall"

// procAttr makes the kernel kill MinIO if the test binary dies without stopping it (a
// test timeout, a crash), so that no server outlives its tests.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
