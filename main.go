// Command portal is the Customer Support Portal — My Contacts: one binary that serves the
// web app and bootstraps an installation from the shell.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

const usage = `Customer Support Portal — My Contacts

Usage:
  portal serve   [flags]                 run the web app
  portal demo    [flags]                 run the web app on a demo database (created if missing)
  portal account add NAME [--parent NAME] [--db PATH]
  portal contact add --account NAME --email E --first F --last L [--phone P] [--job-title T]
                     [--role contact-admin] [--role incident-contact] [--password-stdin] [--db PATH]
  portal contact reset-2fa EMAIL [--db PATH]
                                         remove a contact's second factors (a lost phone)
  portal secrets rotate [--db PATH] [--secrets-key-file FILE]
                                         seal every secret with the key file's first key
  portal backup FILE [--db PATH]         write a consistent copy of a live SQLite database
  portal copy --from FILE --to postgres://...
                                         move a stopped installation from SQLite into an
                                         empty PostgreSQL database (see docs/OPERATIONS.md)

Run "portal serve -h" for the server flags (each has an environment variable), and
"portal demo -h", "portal contact add -h" and so on for each command's own.
`

// run is the whole program with its inputs and outputs passed in, so tests run it in-process.
// It returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := commands{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch {
	case args[0] == "serve":
		return cmd.serve(args[1:])
	case args[0] == "demo":
		return cmd.demo(args[1:])
	case args[0] == "account" && len(args) > 1 && args[1] == "add":
		return cmd.accountAdd(args[2:])
	case args[0] == "contact" && len(args) > 1 && args[1] == "add":
		return cmd.contactAdd(args[2:])
	case args[0] == "contact" && len(args) > 1 && args[1] == "reset-2fa":
		return cmd.contactReset2FA(args[2:])
	case args[0] == "secrets" && len(args) > 1 && args[1] == "rotate":
		return cmd.secretsRotate(args[2:])
	case args[0] == "backup":
		return cmd.backup(args[1:])
	case args[0] == "copy":
		return cmd.copyDB(args[1:])
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case args[0] == "account" || args[0] == "contact" || args[0] == "secrets":
		if len(args) > 1 && (args[1] == "-h" || args[1] == "--help" || args[1] == "help") {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "portal %s: say what to do: see the lines that start with \"portal %s\" below\n\n%s", args[0], args[0], usage)
		return 2
	}
	fmt.Fprintf(stderr, "portal: unknown command %q\n\n%s", args[0], usage)
	return 2
}
