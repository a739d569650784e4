package sdk

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func allClasses() []ErrorClass {
	return []ErrorClass{
		ClassInvalid, ClassRejected, ClassUnavailable, ClassAmbiguous,
		ClassRateLimited, ClassAuth, ClassCredit,
	}
}

func TestClassCodesAreDistinct(t *testing.T) {
	seen := map[codes.Code]ErrorClass{}
	for _, c := range allClasses() {
		code := codeForClass(c)
		if prev, dup := seen[code]; dup {
			t.Errorf("%s and %s share code %s", prev, c, code)
		}
		seen[code] = c
		if code == codes.OK || code == codes.Unimplemented {
			t.Errorf("%s maps to reserved code %s", c, code)
		}
		if got := classFromProto(classToProto(c)); got != c {
			t.Errorf("class %s comes back as %s", c, got)
		}
	}
	if got := classFromProto(classToProto("invented")); got != ClassAmbiguous {
		t.Errorf("unknown class decodes as %s, want %s", got, ClassAmbiguous)
	}
}

func TestDurationToMillis(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want int64
	}{{0, 0}, {-time.Second, 0}, {time.Nanosecond, 1}, {time.Millisecond, 1}, {1500 * time.Microsecond, 2}, {3 * time.Second, 3000}} {
		if got := durationToMillis(tc.in); got != tc.want {
			t.Errorf("durationToMillis(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestErrorsSurviveTheWire sends every error class through real gRPC, both as a per-message
// result and as the error of a whole call, and checks the client gets the same value back.
func TestErrorsSurviveTheWire(t *testing.T) {
	for _, class := range allClasses() {
		want := &Error{Class: class, Code: "c-" + string(class), Message: "m " + string(class)}
		switch class {
		case ClassRateLimited:
			want.RetryAfter = 2500 * time.Millisecond
		case ClassRejected:
			want.OptOut = true // e.g. Twilio's 21610, unsubscribed recipient
		}
		t.Run(string(class), func(t *testing.T) {
			var callErr error // what the provider returns for the whole call
			p := &fullProvider{
				basicProvider: basicProvider{send: func(msgs []OutboundMessage) ([]SendResult, error) {
					if callErr != nil {
						return nil, callErr
					}
					return []SendResult{{Err: want}}, nil
				}},
				balance: func() (Balance, error) { return Balance{}, callErr },
			}
			c, _ := connect(t, p)
			ctx := t.Context()

			res, err := c.Send(ctx, []OutboundMessage{{ID: "m1"}})
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			assertEqual(t, res[0].Err, want)

			callErr = fmt.Errorf("call vendor: %w", want)
			_, err = c.Send(ctx, []OutboundMessage{{ID: "m1"}})
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("send error %T %v, want *Error", err, err)
			}
			assertEqual(t, got, want)

			_, err = c.Balance(ctx)
			if !errors.As(err, &got) {
				t.Fatalf("balance error %T %v, want *Error", err, err)
			}
			assertEqual(t, got, want)
		})
	}
}

func TestClientErrors(t *testing.T) {
	plain := errors.New("boom")
	tests := []struct {
		name  string
		p     Provider
		call  func(ctx context.Context, c *Client) error
		check func(t *testing.T, err error)
	}{
		{
			name: "config error keeps its field",
			p: &basicProvider{configure: func(ConfigureRequest) error {
				return fmt.Errorf("parse: %w", &ConfigError{Field: "base_url", Message: "must be a URL"})
			}},
			call: func(ctx context.Context, c *Client) error { return c.Configure(ctx, ConfigureRequest{}) },
			check: func(t *testing.T, err error) {
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Field != "base_url" || ce.Message != "must be a URL" {
					t.Errorf("got %T %v, want *ConfigError for base_url", err, err)
				}
			},
		},
		{
			name: "unclassified send error is ambiguous",
			p:    &basicProvider{send: func([]OutboundMessage) ([]SendResult, error) { return nil, plain }},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Send(ctx, []OutboundMessage{{ID: "1"}})
				return err
			},
			check: func(t *testing.T, err error) {
				var e *Error
				if !errors.As(err, &e) || e.Class != ClassAmbiguous || e.Message != "boom" {
					t.Errorf("got %T %v, want ambiguous *Error", err, err)
				}
			},
		},
		{
			name: "wrong number of results is ambiguous",
			p: &basicProvider{send: func([]OutboundMessage) ([]SendResult, error) {
				return []SendResult{{ProviderMessageID: "x"}}, nil
			}},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Send(ctx, []OutboundMessage{{ID: "1"}, {ID: "2"}})
				return err
			},
			check: func(t *testing.T, err error) {
				if ClassOf(err) != ClassAmbiguous || err == nil {
					t.Errorf("got %v, want ambiguous", err)
				}
			},
		},
		{
			name: "unclassified error of another call keeps its status",
			p:    &fullProvider{balance: func() (Balance, error) { return Balance{}, plain }},
			call: func(ctx context.Context, c *Client) error { _, err := c.Balance(ctx); return err },
			check: func(t *testing.T, err error) {
				var e *Error
				if errors.As(err, &e) || status.Code(errors.Unwrap(err)) != codes.Unknown {
					t.Errorf("got %T %v, want a wrapped Unknown status", err, err)
				}
			},
		},
		{
			name: "status chosen by the provider passes through",
			p: &fullProvider{balance: func() (Balance, error) {
				return Balance{}, status.Error(codes.NotFound, "no account")
			}},
			call: func(ctx context.Context, c *Client) error { _, err := c.Balance(ctx); return err },
			check: func(t *testing.T, err error) {
				if status.Code(errors.Unwrap(err)) != codes.NotFound {
					t.Errorf("got %v, want NotFound", err)
				}
			},
		},
		{
			name: "provider may report ErrUnimplemented at run time",
			p: &fullProvider{balance: func() (Balance, error) {
				return Balance{}, fmt.Errorf("no balance API: %w", ErrUnimplemented)
			}},
			call: func(ctx context.Context, c *Client) error { _, err := c.Balance(ctx); return err },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrUnimplemented) {
					t.Errorf("got %v, want ErrUnimplemented", err)
				}
			},
		},
		{
			name: "deadline passed in the provider",
			p: &fullProvider{poll: func([]string) ([]StatusUpdate, error) {
				return nil, fmt.Errorf("poll: %w", context.DeadlineExceeded)
			}},
			call: func(ctx context.Context, c *Client) error { _, err := c.PollStatus(ctx, []string{"x"}); return err },
			check: func(t *testing.T, err error) {
				if status.Code(errors.Unwrap(err)) != codes.DeadlineExceeded {
					t.Errorf("got %v, want DeadlineExceeded", err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := connect(t, tc.p)
			err := tc.call(t.Context(), c)
			if err == nil {
				t.Fatal("no error")
			}
			tc.check(t, err)
		})
	}
}

func TestUnimplementedCapabilities(t *testing.T) {
	c, _ := connect(t, &basicProvider{})
	ctx := t.Context()
	calls := map[string]func() error{
		"webhook": func() error { _, err := c.HandleWebhook(ctx, WebhookRequest{}); return err },
		"poll":    func() error { _, err := c.PollStatus(ctx, []string{"x"}); return err },
		"balance": func() error { _, err := c.Balance(ctx); return err },
		"events":  func() error { return c.Events(ctx, func(Event) error { return nil }) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, ErrUnimplemented) {
				t.Errorf("got %v, want ErrUnimplemented", err)
			}
		})
	}
}

// TestDeadPlugin: once the plugin is gone, a Send is ambiguous (it may have gone out before
// the plugin died) and other calls return the transport status.
func TestDeadPlugin(t *testing.T) {
	c, server := connect(t, &basicProvider{})
	server.Stop()
	ctx := t.Context()

	_, err := c.Send(ctx, []OutboundMessage{{ID: "1"}})
	var e *Error
	if !errors.As(err, &e) || e.Class != ClassAmbiguous {
		t.Errorf("send: got %T %v, want ambiguous *Error", err, err)
	}

	_, err = c.Info(ctx)
	if errors.As(err, &e) || status.Code(errors.Unwrap(err)) != codes.Unavailable {
		t.Errorf("info: got %T %v, want a wrapped Unavailable status", err, err)
	}
}
