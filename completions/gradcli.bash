_gradcli_completion() {
    local response kind value
    COMPREPLY=()
    response=$(env COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" \
COMP_WORDBREAKS="$COMP_WORDBREAKS" _GRADCLI_COMPLETE=bash_complete "$1" 2>/dev/null) || return 0
    while IFS= read -r value; do
        kind=${value%%,*}
        value=${value#*,}
        case $kind in
            plain) COMPREPLY+=("$value") ;;
            nospace) compopt -o nospace ;;
            file) COMPREPLY=(); compopt -o default; return 0 ;;
            dir) COMPREPLY=(); compopt -o dirnames; return 0 ;;
        esac
    done <<< "$response"
    return 0
}

complete -o nosort -F _gradcli_completion gradcli
