//go:build unix

package transport_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/transport"
)

// TestLogAttributesOnce: a target logs through the logger it is given,
// which already names the target, and adds no second "target" (JSON
// output would carry the key twice); messages are constant.
func TestLogAttributesOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("target", "T")
	src := t.TempDir()
	tgt, _ := newLocal(t, src, transport.Options{Source: src, Logger: log})
	st, err := tgt.Push(context.Background(), []transport.Change{{Op: change.Modify, Path: "a/../../x"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failed) != 1 {
		t.Fatalf("Failed = %v, want the refused path", st.Failed)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatal("nothing logged")
	}
	for _, l := range lines {
		if n := strings.Count(l, `"target":`); n != 1 {
			t.Errorf("%d target attributes in %s", n, l)
		}
	}
}
