from tracer.runtime_wrapper.wrapper import main

main()
