package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Shell snippets that ask devca itself for completions through the cli
// library's --generate-bash-completion flag.
const bashCompletion = `_devca_complete() {
  local cur words
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == -* ]]; then
    words=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    words=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o bashdefault -o default -F _devca_complete devca
`

const zshCompletion = `#compdef devca
_devca() {
  local -a opts
  opts=("${(@f)$(${words[1]} ${words[@]:1:$CURRENT-2} --generate-bash-completion 2>/dev/null)}")
  _describe 'values' opts
}
compdef _devca devca
`

func newCompletionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script",
		ArgsUsage: "bash|zsh|fish",
		UsageText: "source <(devca completion bash)\n" +
			"devca completion zsh > \"${fpath[1]}/_devca\"\n" +
			"devca completion fish > ~/.config/fish/completions/devca.fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErrorf("completion needs one shell: bash, zsh or fish")
			}
			switch shell := c.Args().First(); shell {
			case "bash":
				fmt.Fprint(e.stdout, bashCompletion)
			case "zsh":
				fmt.Fprint(e.stdout, zshCompletion)
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("generating fish completion: %w", err)
				}
				fmt.Fprint(e.stdout, script)
			default:
				return usageErrorf("unknown shell %q: choose bash, zsh or fish", shell)
			}
			return nil
		},
	}
}
