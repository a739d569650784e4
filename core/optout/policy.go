package optout

import "time"

// Action is what a keyword does to the (sender, recipient) block.
type Action int

const (
	// NoAction leaves the block as it is (HELP, or not a keyword). It is not named None
	// because Keyword already has None.
	NoAction Action = iota
	// Block creates or renews the block on sends from the number that received the keyword
	// to the number that sent it.
	Block
	// Lift removes that block.
	Lift
)

// String names the action for logs and test failures.
func (a Action) String() string {
	switch a {
	case NoAction:
		return "none"
	case Block:
		return "block"
	case Lift:
		return "lift"
	}
	return "unknown"
}

// Decision is what the gateway does with one inbound keyword.
type Decision struct {
	Action Action
	// Reply is the text to send back from the number that received the keyword, through
	// normal routing; empty means send nothing.
	Reply string
}

// Policy is the configured opt-out behaviour (the opt_out config block).
type Policy struct {
	// Replies to each keyword family; an empty string means no reply.
	StopReply  string
	StartReply string
	HelpReply  string
	// Expiry is how long a block lasts; zero (or, defensively, negative) means permanent.
	Expiry time.Duration
}

// Decide says what to do about keyword k. An unknown Keyword value does nothing, so a
// classification bug can never lift or create a block by accident.
func (p Policy) Decide(k Keyword) Decision {
	switch k {
	case Stop:
		return Decision{Action: Block, Reply: p.StopReply}
	case Start:
		return Decision{Action: Lift, Reply: p.StartReply}
	case Help:
		return Decision{Action: NoAction, Reply: p.HelpReply}
	}
	return Decision{Action: NoAction}
}

// ExpiresAt returns when a block created at now ends, or nil for a permanent block. A
// negative Expiry counts as permanent: a block that is expired as it is written would
// silently ignore a STOP, the worst failure an opt-out can have.
func (p Policy) ExpiresAt(now time.Time) *time.Time {
	if p.Expiry <= 0 {
		return nil
	}
	t := now.Add(p.Expiry)
	return &t
}
