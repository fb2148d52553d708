//go:build !linux

package minio

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
