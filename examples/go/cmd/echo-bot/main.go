// echo-bot answers every message on the dwhatsapp ring with "echo: <text>",
// through the Go binding, until SIGINT or SIGTERM.
//
// Usage: echo-bot -server HOST:PORT -data DIR NICKNAME   (password: first line of stdin)
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"dwhatsapp"
)

func main() {
	server := flag.String("server", "", "HOST:PORT of a ring member")
	data := flag.String("data", "", "the bot's data directory")
	flag.Parse()
	if flag.NArg() != 1 || *data == "" {
		fmt.Fprintln(os.Stderr, "usage: echo-bot -server HOST:PORT -data DIR NICKNAME  (password on the first line of stdin)")
		os.Exit(2)
	}
	if err := run(*server, *data, flag.Arg(0)); err != nil {
		fmt.Fprintf(os.Stderr, "echo-bot: %v\n", err)
		os.Exit(1)
	}
}

func run(server, data, nickname string) error {
	password, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && password == "" {
		return fmt.Errorf("expected the password on the first line of stdin")
	}
	password = strings.TrimRight(password, "\r\n")

	opts := dwhatsapp.ClientOptions{DataDir: data}
	if server != "" {
		opts.Servers = []string{server}
	}
	client, err := dwhatsapp.Open(opts)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Register(nickname, password); errors.Is(err, dwhatsapp.ErrExists) {
		err = client.Login(nickname, password)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	receiver, err := client.Receive(ctx)
	if err != nil {
		return err
	}
	me, _ := client.Whoami()
	fmt.Printf("echo-bot: answering as %s\n", me)
	for {
		select {
		case m, ok := <-receiver.Messages:
			if !ok {
				return nil // a signal: the receiver has stopped
			}
			id, err := client.Send(m.From, "echo: "+m.Text)
			if err != nil {
				fmt.Fprintf(os.Stderr, "echo-bot: cannot answer %s from %s: %v\n", m.ID, m.From, err)
				continue
			}
			fmt.Printf("echo-bot: answered %s from %s with %s\n", m.ID, m.From, id)
		case err := <-receiver.Errors:
			if err != nil {
				fmt.Fprintf(os.Stderr, "echo-bot: receiving: %v; retrying\n", err)
			}
		}
	}
}
