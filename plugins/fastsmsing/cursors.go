package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// cursors keeps the /updates cursor to resume from.
//
// The plugin process dies with a restart and the protocol gives the host no way to hand a
// cursor back, so the cursor is saved by the plugin in config.cursor_file (when set). The
// saved cursor trails the newest emitted one by the replay window: an emitted event is only
// queued at the host, and a gateway killed before committing it would lose it for good (the
// API has no per-message status to reconcile with). Resuming from the trailing cursor
// replays the last few seconds instead; the host ignores repeated statuses.
//
// Without cursor_file a new process starts from the beginning of the provider's update log
// (an empty cursor), which repeats old updates but misses none.
//
// The file is replaced atomically (write, rename), not fsynced: a plugin killed at any point
// leaves the old or the new cursor, and a machine crash at worst an older one.
type cursors struct {
	file   string
	window time.Duration

	mu      sync.Mutex
	saved   string // the resume point
	pending []mark // emitted cursors newer than saved, oldest first
}

type mark struct {
	cursor string
	at     time.Time
}

type cursorFile struct {
	Cursor  string    `json:"cursor"`
	SavedAt time.Time `json:"saved_at"`
}

// loadCursors reads file (when set) and checks it can be written, so a bad path fails
// Configure rather than every save.
func loadCursors(file string, window time.Duration) (*cursors, error) {
	c := &cursors{file: file, window: window}
	if file == "" {
		return c, nil
	}
	raw, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read: %w", err)
	default:
		var cf cursorFile
		if err := json.Unmarshal(raw, &cf); err != nil {
			return nil, fmt.Errorf("%s is not a cursor file: %w", file, err)
		}
		c.saved = cf.Cursor
	}
	if err := c.write(c.saved, time.Now()); err != nil {
		return nil, err
	}
	return c, nil
}

// restart returns the cursor a new subscription starts from, forgetting what was emitted
// after it (it is about to be emitted again).
func (c *cursors) restart() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = nil
	return c.saved
}

// resume is the cursor a new subscription would start from.
func (c *cursors) resume() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saved
}

// emitted records that every update up to cursor was emitted at the given time.
func (c *cursors) emitted(cursor string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := c.saved
	if n := len(c.pending); n > 0 {
		last = c.pending[n-1].cursor
	}
	if cursor != last {
		c.pending = append(c.pending, mark{cursor: cursor, at: at})
	}
}

// advance moves the resume point to the newest cursor emitted at least the window before
// now, and saves it when it moved.
func (c *cursors) advance(now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(c.pending) && !c.pending[n].at.After(now.Add(-c.window)) {
		n++
	}
	if n == 0 {
		return nil
	}
	c.saved = c.pending[n-1].cursor
	c.pending = append(c.pending[:0], c.pending[n:]...)
	return c.write(c.saved, now)
}

// write saves cursor to the file, if any. Callers hold mu or own c.
func (c *cursors) write(cursor string, now time.Time) error {
	if c.file == "" {
		return nil
	}
	raw, err := json.Marshal(cursorFile{Cursor: cursor, SavedAt: now.UTC()})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.file), filepath.Base(c.file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", c.file, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", c.file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", c.file, err)
	}
	if err := os.Rename(tmp.Name(), c.file); err != nil {
		return fmt.Errorf("write %s: %w", c.file, err)
	}
	return nil
}
