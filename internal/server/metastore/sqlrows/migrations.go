package sqlrows

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one schema migration: the file migrations/NNNN_what.sql holds the statements
// that bring a schema at an earlier version to version NNNN.
type Migration struct {
	Version int
	Name    string // the file's name
	SQL     string
}

// PendingMigrations returns the migrations of fsys (migrations/*.sql) after version current,
// in order, to apply each in its own transaction and record its version and name. A schema
// newer than every migration is refused: an older program must not write to it.
func PendingMigrations(fsys fs.FS, current int) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var pending []Migration
	latest := 0
	for _, name := range names {
		base := path.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("bad migration name %q", base)
		}
		latest = max(latest, v)
		if v <= current {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		pending = append(pending, Migration{Version: v, Name: base, SQL: string(body)})
	}
	if current > latest {
		return nil, fmt.Errorf("database schema version %d is newer than this program knows (%d): upgrade parsec", current, latest)
	}
	return pending, nil
}
