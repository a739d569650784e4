package queue

import (
	"context"
	"errors"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// logHandler is a slog.Handler writing River's logs to hclog. River's info lines (client
// started, leadership changes) go out at debug and its debug lines at trace, so a gateway at
// the default info level shows River's warnings and errors only.
type logHandler struct {
	log    hclog.Logger
	prefix string // of the open groups, "a.b."
}

func newLogHandler(log hclog.Logger) *logHandler { return &logHandler{log: log} }

func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l >= slog.LevelError:
		return hclog.Error
	case l >= slog.LevelWarn:
		return hclog.Warn
	case l >= slog.LevelInfo:
		return hclog.Debug
	default:
		return hclog.Trace
	}
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	lvl := h.log.GetLevel()
	return lvl != hclog.Off && lvl <= hclogLevel(l)
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	args := make([]any, 0, 2*r.NumAttrs())
	canceled := false
	r.Attrs(func(a slog.Attr) bool {
		canceled = canceled || isCanceled(a)
		args = appendAttr(args, h.prefix, a)
		return true
	})
	level := hclogLevel(r.Level)
	if canceled && level > hclog.Debug {
		// River's maintenance services (the periodic job enqueuer among them) report the
		// cancellation of their own context as an error when the client stops: that is
		// the shutdown working, not a failure.
		level = hclog.Debug
	}
	h.log.Log(level, r.Message, args...)
	return nil
}

// isCanceled reports whether a is an "error" attribute saying only that a context was
// canceled.
func isCanceled(a slog.Attr) bool {
	if a.Key != "error" {
		return false
	}
	switch v := a.Value.Resolve().Any().(type) {
	case error:
		return errors.Is(v, context.Canceled)
	case string:
		return v == context.Canceled.Error()
	}
	return false
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	args := make([]any, 0, 2*len(attrs))
	for _, a := range attrs {
		args = appendAttr(args, h.prefix, a)
	}
	return &logHandler{log: h.log.With(args...), prefix: h.prefix}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &logHandler{log: h.log, prefix: h.prefix + name + "."}
}

// appendAttr flattens a onto hclog's key/value list, groups as dotted keys.
func appendAttr(args []any, prefix string, a slog.Attr) []any {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range v.Group() {
			args = appendAttr(args, p, ga)
		}
		return args
	}
	if a.Key == "" {
		return args
	}
	return append(args, prefix+a.Key, v.Any())
}
