// Package logs reads container log files in the CRI format that containerd writes,
// "<RFC3339Nano> stdout|stderr F|P <content>", and serves them as `kubectl logs` shows
// them: joined partial lines, optional timestamps, tail, since, byte limit and follow.
package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Entry is one parsed log line.
type Entry struct {
	Time    time.Time
	Stream  string
	Partial bool // "P": the runtime split a long line; the next entry continues it
	Content []byte
}

// ParseLine parses one CRI log line (without its newline).
func ParseLine(line []byte) (Entry, error) {
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return Entry{}, fmt.Errorf("log line without a timestamp: %q", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return Entry{}, fmt.Errorf("log line timestamp: %w", err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != "stdout" && string(stream) != "stderr") {
		return Entry{}, fmt.Errorf("log line without a stream: %q", line)
	}
	e := Entry{Time: t, Stream: string(stream)}
	tag, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		// An empty line may be written as "<ts> stdout F" with nothing after the tag.
		tag, content = rest, nil
	}
	switch string(tag) {
	case "F":
	case "P":
		e.Partial = true
	default:
		return Entry{}, fmt.Errorf("log line tag %q is neither F nor P", tag)
	}
	e.Content = content
	return e, nil
}

// Options are the knobs of `kubectl logs`.
type Options struct {
	Follow     bool
	TailLines  int64 // < 0: all
	Since      time.Time
	Timestamps bool
	LimitBytes int64 // <= 0: no limit
}

// Copy writes the log at path to w as kubectl expects it. With Follow it keeps
// reading new lines until ctx ends or running reports the container stopped and the
// file has no more to give.
func Copy(ctx context.Context, w io.Writer, path string, o Options, running func() bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if o.TailLines >= 0 {
		off, err := tailOffset(f, o.TailLines)
		if err != nil {
			return err
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return err
		}
	}
	out := &limitWriter{w: w, left: o.LimitBytes}
	r := bufio.NewReaderSize(f, 64<<10)
	var pending []byte // an unterminated line, awaiting the rest from the runtime
	for {
		chunk, err := r.ReadBytes('\n')
		pending = append(pending, chunk...)
		if err == nil {
			if werr := writeEntry(out, pending[:len(pending)-1], o); werr != nil {
				return ignoreLimit(werr)
			}
			pending = pending[:0]
			continue
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		flush(w)
		if !o.Follow {
			return nil
		}
		if running != nil && !running() {
			// One more read: the runtime may have written its last lines between
			// the read above and the state check.
			if more, _ := r.Peek(1); len(more) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func writeEntry(w io.Writer, line []byte, o Options) error {
	e, err := ParseLine(line)
	if err != nil {
		return nil // a torn or foreign line is skipped rather than ending the stream
	}
	if !o.Since.IsZero() && e.Time.Before(o.Since) {
		return nil
	}
	var b []byte
	if o.Timestamps {
		b = append(b, e.Time.Format(time.RFC3339Nano)...)
		b = append(b, ' ')
	}
	b = append(b, e.Content...)
	if !e.Partial {
		b = append(b, '\n')
	}
	_, err = w.Write(b)
	return err
}

// tailOffset returns where the last n complete log lines start (a partial "P" entry
// belongs to the line its final "F" entry ends).
func tailOffset(f *os.File, n int64) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	var starts []int64 // start offsets of logical lines, oldest first, at most n kept
	var off int64
	lineStart := int64(0)
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			end := off + int64(len(line))
			if e, perr := ParseLine(line[:len(line)-1]); perr != nil || !e.Partial {
				starts = append(starts, lineStart)
				if int64(len(starts)) > n {
					starts = starts[1:]
				}
				lineStart = end
			}
			off = end
		}
		if err != nil {
			break
		}
	}
	if n == 0 {
		return off, nil
	}
	if len(starts) == 0 {
		return 0, nil
	}
	return starts[0], nil
}

var errLimit = errors.New("byte limit reached")

type limitWriter struct {
	w    io.Writer
	left int64 // <= 0 at start means unlimited; tracked through limited
	used int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left > 0 {
		room := l.left - l.used
		if room <= 0 {
			return 0, errLimit
		}
		if int64(len(p)) > room {
			n, _ := l.w.Write(p[:room])
			l.used += int64(n)
			return n, errLimit
		}
	}
	n, err := l.w.Write(p)
	l.used += int64(n)
	return n, err
}

func ignoreLimit(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

func flush(w io.Writer) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
