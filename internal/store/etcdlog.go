package store

import (
	"context"
	"log/slog"

	"go.uber.org/zap/zapcore"
)

// slogCore hands etcd's zap entries of level Warn and above to slog, so disk,
// WAL and quota problems show in skiff's log; etcd's chatty Info lines are dropped.
type slogCore struct {
	log    *slog.Logger
	fields []zapcore.Field
}

func newSlogCore(log *slog.Logger) zapcore.Core { return &slogCore{log: log.With("component", "etcd")} }

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= zapcore.WarnLevel }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, fields: append(append([]zapcore.Field(nil), c.fields...), fields...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// harmless are etcd warnings that do not apply to the embedded member: it has no
// listeners at all and etcd authentication is off (the API server is the gate).
var harmless = map[string]bool{
	"Running http and grpc server on single port. This is not recommended for production.": true,
	"simple token is not cryptographically signed":                                         true,
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if harmless[e.Message] {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(append([]zapcore.Field(nil), c.fields...), fields...) {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields)+1)
	if e.LoggerName != "" {
		attrs = append(attrs, slog.String("logger", e.LoggerName))
	}
	for k, v := range enc.Fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	level, msg := slog.LevelWarn, e.Message
	switch {
	case e.Level >= zapcore.PanicLevel:
		// etcd exits the process right after a Fatal entry: this line is the reason.
		level, msg = slog.LevelError, "etcd failed, the server stops: "+e.Message
	case e.Level >= zapcore.ErrorLevel:
		level = slog.LevelError
	}
	c.log.LogAttrs(context.Background(), level, msg, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }
