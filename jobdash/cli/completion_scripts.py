"""The completion scripts `jobdash completion SHELL` prints. Each is a thin function that
hands the words typed so far to `jobdash __complete` (see `jobdash.cli.completion`) and
gives its answer to the shell: candidates one a line, or exit status 3 for file names.
Its errors go to /dev/null: a TAB that finds nothing shows nothing.

The program run is the one being completed when it was typed as a path (a virtualenv's
`.venv/bin/jobdash`), else `jobdash` from PATH.
"""

BASH = r"""# jobdash completion for bash. Install:
#   jobdash completion bash > ~/.local/share/bash-completion/completions/jobdash
# or add to ~/.bashrc:  eval "$(jobdash completion bash)"
_jobdash() {
    local cmd=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} out rc
    [[ $cmd == */* && -x $cmd ]] || cmd=jobdash
    out=$("$cmd" __complete bash "${COMP_LINE:0:COMP_POINT}" "$cur" 2>/dev/null)
    rc=$?
    COMPREPLY=()
    if [[ $rc -eq 3 ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    elif [[ $rc -eq 0 && -n $out ]]; then
        mapfile -t COMPREPLY <<<"$out"
        # `-p NAME=`: the value is typed next, without a blank.
        [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
    fi
}
complete -F _jobdash jobdash
"""

ZSH = r"""#compdef jobdash
# jobdash completion for zsh. Install:
#   jobdash completion zsh > "${fpath[1]}/_jobdash"     (then start a new shell)
# or add to ~/.zshrc, after compinit:  source <(jobdash completion zsh)
_jobdash() {
    local cmd=${words[1]} out rc
    local -a found
    [[ $cmd == */* && -x $cmd ]] || cmd=jobdash
    out=$("$cmd" __complete zsh -- "${(@Q)words[1,CURRENT]}" 2>/dev/null)
    rc=$?
    if (( rc == 3 )); then
        _files
        return
    fi
    (( rc == 0 )) && [[ -n $out ]] || return 1
    found=("${(@f)out}")
    if [[ $out == *=(:*|) && ${#found} -eq 1 ]]; then
        _describe -t values jobdash found -S ''
    else
        _describe -t values jobdash found
    fi
}
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
    _jobdash "$@"
else
    compdef _jobdash jobdash
fi
"""

FISH = r"""# jobdash completion for fish. Install:
#   jobdash completion fish > ~/.config/fish/completions/jobdash.fish
function __jobdash_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l cmd $tokens[1]
    string match -q -- '*/*' $cmd; and test -x $cmd; or set cmd jobdash
    set -l out ($cmd __complete fish -- $tokens "$cur" 2>/dev/null)
    set -l st $status
    if test $st -eq 3
        __fish_complete_path (commandline -ct)
    else if test $st -eq 0
        printf '%s\n' $out
    end
end
complete -c jobdash -f -a '(__jobdash_complete)'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}
