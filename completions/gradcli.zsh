#compdef gradcli

_gradcli_completion() {
    local -a response formula plain described
    local kind value help
    (( ! $+commands[gradcli] )) && return 1
    response=("${(@f)$(env COMP_LINE="${(j: :)${(@)words[1,CURRENT]}}" \
_GRADCLI_COMPLETE=zsh_complete gradcli 2>/dev/null)}")
    for kind value help in "${response[@]}"; do
        case $kind in
            formula) formula+=("$value") ;;
            plain)
                if [[ $help == _ ]]; then plain+=("$value")
                else described+=("${value//:/\\:}:$help"); fi ;;
            file) _path_files -f ;;
            dir) _path_files -/ ;;
        esac
    done
    (( $#described )) && _describe -V unsorted described -U
    (( $#plain )) && compadd -U -V unsorted -a plain
    (( $#formula )) && compadd -U -V unsorted -S '' -a formula
    return 0
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _gradcli_completion "$@"
else
    compdef _gradcli_completion gradcli
fi
