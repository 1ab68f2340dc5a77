# Writes a C++ source holding a file's text as a string constant: cmake -DIN=... -DOUT=... -DNAME=... -P embed.cmake
file(READ "${IN}" content)
file(WRITE "${OUT}.tmp" "// Generated from ${IN}; do not edit.\nnamespace relengine::load {\nextern const char* const ${NAME};\nconst char* const ${NAME} = R\"EMBED_(${content})EMBED_\";\n}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
