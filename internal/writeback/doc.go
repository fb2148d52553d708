// Package writeback writes a local file front to back, as a download does, sending what is
// written to the disk as it goes and dropping it from the page cache once it is there, so
// that a large download neither fills the machine's memory with dirty pages (the kernel
// would write them later all at once, slowing every other program) nor evicts what other
// programs keep cached. At most Window+Step bytes of a file are held in memory, its last
// ones; a file smaller than that is written as usual.
//
// It is the pattern Linux's developers advise for streaming writes: start the write-back of
// each step as soon as it is written (sync_file_range), then, a window later, wait for that
// step to be on disk and drop its pages (posix_fadvise DONTNEED). Whether the file can be
// written so is decided once, when its first step is written (smaller files are plain): a
// regular file on a file system whose page cache these calls reach (not tmpfs, whose pages
// are the file, nor overlayfs, which keeps them on the file beneath); elsewhere (other
// systems, pipes, devices, sandboxes that refuse the calls) a File is a plain file. Once
// decided, any error of these calls is a write error: it may be the disk's.
//
// It never syncs the file as a whole: a download is not made durable by it, only kept out
// of memory.
//
// A file can also be made without a name (CreateUnnamed: O_TMPFILE on Linux) and named
// once complete (File.Link), so that one left incomplete leaves nothing behind; where the
// system cannot, CreateUnnamed says so (errors.ErrUnsupported) and the caller makes a
// named file.
package writeback
