function _gradcli_completion
    set -l response (env _GRADCLI_COMPLETE=fish_complete \
COMP_LINE=(commandline -cp | string collect) gradcli 2>/dev/null)
    for completion in $response
        set -l metadata (string split \t -- $completion)
        switch $metadata[1]
            case formula plain
                if test "$metadata[3]" != _
                    printf '%s\t%s\n' $metadata[2] $metadata[3]
                else
                    printf '%s\n' $metadata[2]
                end
            case file
                __fish_complete_path (commandline -ct)
            case dir
                __fish_complete_directories (commandline -ct)
        end
    end
end

complete --no-files --command gradcli --arguments "(_gradcli_completion)"
