package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"portal/components"
	"portal/db"
)

// Retry schedule: the first retry after about FirstRetry, doubling up to MaxRetry, each
// delay with jitter so that mail queued during an outage doesn't hit the relay all at once
// when it comes back.
const (
	FirstRetry = 30 * time.Second
	MaxRetry   = 30 * time.Minute
	// MaxNoticeAge is how long a mail without a link (a notice) is retried before it is
	// given up; mails with a link are given up when the link expires.
	MaxNoticeAge = 72 * time.Hour
	// KeepMail is how long sent and given-up mail and spent links stay in the database.
	KeepMail = 90 * 24 * time.Hour
	// pollEvery bounds how long the worker sleeps when nothing wakes it. A transaction that
	// queues mail wakes the worker of its own server; sharedPollEvery is the bound when the
	// database is shared with other servers (PostgreSQL), whose mail, or what one of them
	// left queued when it stopped, nothing here is woken for.
	pollEvery       = time.Minute
	sharedPollEvery = 5 * time.Second
	pruneEvery      = time.Hour
	// claimLease is how long a mail a worker has taken is left to it (db.Store.ClaimMail):
	// far longer than a delivery may take (SendTimeout, and the writes around it), so that
	// no other worker sends it meanwhile; after a crash, its mail in hand waits this long.
	claimLease = 5 * time.Minute
)

// Backoff is the delay before retry number attempt (1 for the first retry). jitter in
// [0, 1) spreads it between half and the full delay.
func Backoff(attempt int, jitter float64) time.Duration {
	d := FirstRetry
	for i := 1; i < attempt && d < MaxRetry; i++ {
		d *= 2
	}
	d = min(d, MaxRetry)
	return d/2 + time.Duration(jitter*float64(d/2))
}

// Worker sends the outbox. One runs inside each server: on PostgreSQL, the workers of
// every server share the outbox, each mail taken by one of them (db.Store.ClaimMail). Tests
// call RunOnce.
type Worker struct {
	store   *db.Store
	sender  Sender
	baseURL string
	log     *slog.Logger
	poll    time.Duration // see pollEvery
}

// NewWorker returns a worker that sends the store's outbox through sender; links are built
// from baseURL (the configured public URL, never a request's Host header).
func NewWorker(store *db.Store, sender Sender, baseURL string, log *slog.Logger) *Worker {
	poll := pollEvery
	if store.Postgres() {
		poll = sharedPollEvery
	}
	return &Worker{store: store, sender: sender, baseURL: baseURL, log: log, poll: poll}
}

// Result counts what one pass over the outbox did.
type Result struct {
	Sent, Retried, GivenUp, Superseded int
}

// Run sends mail until ctx is cancelled: at once when a transaction queues some (the store
// pokes it), when a retry falls due, and at least every minute (every few seconds on
// PostgreSQL). Cancelling ctx lets the message in hand finish; the rest waits in the outbox
// for the next start, or for the worker of another server sharing the database.
func (w *Worker) Run(ctx context.Context) {
	var pruned time.Time
	for {
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("mail worker", "err", err)
		}
		if now := w.store.Now(); now.Sub(pruned) >= pruneEvery {
			pruned = now
			if n, err := w.store.PruneMail(ctx, now.Add(-KeepMail)); err != nil && ctx.Err() == nil {
				w.log.Warn("prune mail", "err", err)
			} else if n > 0 {
				w.log.Debug("pruned mail", "rows", n)
			}
		}
		wait := w.poll
		if at, ok, err := w.store.NextMailDue(ctx); err == nil && ok {
			wait = min(wait, max(time.Second, at.Sub(w.store.Now())))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-w.store.MailQueued():
		case <-timer.C:
		}
		timer.Stop()
	}
}

// RunOnce handles every mail that is due now, one at a time, and returns what it did. It
// stops between two mails when ctx is cancelled. It takes one mail at a time, so that a
// worker that stops holds none but the one in hand, and the workers of several servers
// share a backlog.
func (w *Worker) RunOnce(ctx context.Context) (Result, error) {
	var r Result
	for ctx.Err() == nil {
		m, ok, err := w.store.ClaimMail(ctx, claimLease)
		if err != nil || !ok {
			return r, err
		}
		// The mail in hand is finished even during shutdown: a half-done delivery would
		// only be sent again on the next start.
		if err := w.process(context.WithoutCancel(ctx), m, &r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// process sends one mail, or reschedules, gives up or drops it.
func (w *Worker) process(ctx context.Context, m db.OutboxMail, r *Result) error {
	now := w.store.Now()
	v := components.Mail{Kind: m.Kind, ToName: headerText(m.ToName), ToEmail: m.ToEmail, AboutName: headerText(m.AboutName),
		AboutEmail: m.AboutEmail, At: m.CreatedAt, LoginURL: w.baseURL + "/login", ForgotURL: w.baseURL + "/forgot-password"}
	var err error
	switch m.Kind {
	case db.MailReset, db.MailInvite:
		var raw string
		var tok db.PasswordToken
		if raw, tok, err = w.store.MintLink(ctx, m); err == nil {
			v.Link = w.baseURL + "/set-password/" + raw
			v.ExpiresAt, v.ValidFor = tok.ExpiresAt, tok.TTL()
		}
	case db.MailEmailConfirm, db.MailEmailChangeNotice:
		var raw string
		var ch db.EmailChange
		if raw, ch, err = w.store.MintEmailChangeLink(ctx, m); err == nil {
			v.Link = w.baseURL + "/cancel-email-change/" + raw
			if m.Kind == db.MailEmailConfirm {
				v.Link = w.baseURL + "/confirm-email/" + raw
			}
			v.ExpiresAt, v.ValidFor, v.NewEmail = ch.ExpiresAt, ch.ExpiresAt.Sub(ch.CreatedAt), ch.NewEmail
		}
	case db.MailAutoLocked:
		v.Link = fmt.Sprintf("%s/contacts/%d", w.baseURL, m.AboutID)
	}
	switch {
	case errors.Is(err, db.ErrLinkExpired):
		r.GivenUp++
		w.log.Warn("mail given up: its link expired before it could be sent", "mail_id", m.ID, "kind", m.Kind,
			"to", m.ToEmail, "attempts", m.Attempts, "last_error", m.LastError)
		return w.store.FinishMail(ctx, m, db.MailGivenUp, "the link expired before the mail could be sent; last error: "+m.LastError)
	case errors.Is(err, db.ErrLinkSuperseded):
		r.Superseded++
		w.log.Info("mail dropped: what its link was for was done, voided or cancelled", "mail_id", m.ID, "kind", m.Kind)
		return w.store.FinishMail(ctx, m, db.MailSuperseded, err.Error())
	case err != nil:
		return err
	}
	if v.ExpiresAt.IsZero() && now.Sub(m.CreatedAt) > MaxNoticeAge { // a notice without a link
		r.GivenUp++
		w.log.Warn("mail given up: too old", "mail_id", m.ID, "kind", m.Kind, "to", m.ToEmail, "attempts", m.Attempts)
		return w.store.FinishMail(ctx, m, db.MailGivenUp, "not delivered within "+components.Duration(MaxNoticeAge)+"; last error: "+m.LastError)
	}

	var html bytes.Buffer
	if err := components.MailHTML(v).Render(ctx, &html); err != nil {
		return fmt.Errorf("mail: render %s: %w", m.ID, err)
	}
	msg := Message{ID: m.ID, ToName: m.ToName, ToEmail: m.ToEmail, Subject: v.Subject(),
		Text: components.MailText(v), HTML: html.String()}
	if err := w.sender.Send(ctx, msg); err != nil {
		if errors.Is(err, ErrBadAddress) {
			r.GivenUp++
			w.log.Warn("mail given up: bad recipient address", "mail_id", m.ID, "to", m.ToEmail)
			return w.store.FinishMail(ctx, m, db.MailGivenUp, err.Error())
		}
		r.Retried++
		next := now.Add(Backoff(m.Attempts+1, rand.Float64()))
		w.log.Warn("mail not sent, will retry", "mail_id", m.ID, "kind", m.Kind, "attempt", m.Attempts+1,
			"retry_at", next, "err", err)
		return w.store.RetryMail(ctx, m.ID, next, err.Error())
	}
	r.Sent++
	w.log.Info("mail sent", "mail_id", m.ID, "kind", m.Kind, "to", m.ToEmail, "attempt", m.Attempts+1)
	return w.store.MarkMailSent(ctx, m.ID)
}
