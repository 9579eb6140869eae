from tracer.oci_runtime.wrapper import main

main()
