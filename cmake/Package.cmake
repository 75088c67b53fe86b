# cmake --install and cpack -G DEB: what an installed ferry is made of.
#
#   ferryd, ferryctl          PREFIX/sbin
#   ferry                     PREFIX/bin
#   manual pages              PREFIX/share/man/manN (gzip)
#   README.md, docs/*.md      PREFIX/share/doc/ferry
#   ferryd.service            PREFIX/lib/systemd/system
#   ferry.lua (Wireshark)     PREFIX/lib/<multiarch>/wireshark/plugins
#   ferryd.conf               /etc/ferry/ferryd.conf
#   logrotate                 /etc/logrotate.d/ferryd
#
# The .deb installs with PREFIX /usr (docs/OPERATIONS.md). The test and
# benchmark programs are never installed.

include(GNUInstallDirs)

# /etc is /etc whatever the prefix: ferryd.service names
# /etc/ferry/ferryd.conf, and the .deb marks both files as conffiles.
set(FERRY_INSTALL_SYSCONFDIR "/etc" CACHE PATH "Where ferry/ferryd.conf and logrotate.d/ferryd go")
# Debian's Wireshark (and tshark -G folders) reads Lua plugins from the
# multiarch library directory, not from share/.
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(_ferry_ws_default "lib/${CMAKE_LIBRARY_ARCHITECTURE}/wireshark/plugins")
else()
  set(_ferry_ws_default "lib/wireshark/plugins")
endif()
set(FERRY_WIRESHARK_PLUGINDIR "${_ferry_ws_default}" CACHE STRING
  "Wireshark's global Lua plugin folder, under the prefix")
set(FERRY_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING "systemd system units, under the prefix")

install(TARGETS ferryd ferryctl RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS ferry RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

if(FERRY_MAN)
  foreach(page ${FERRY_MAN_PAGES})
    string(REGEX REPLACE "^.*\\.([0-9])$" "\\1" section "${page}")
    install(FILES ${FERRY_MAN_DIR}/man${section}/${page}.gz
      DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
endif()

file(GLOB _ferry_docs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES README.md ${_ferry_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})

install(FILES contrib/wireshark/ferry.lua DESTINATION ${FERRY_WIRESHARK_PLUGINDIR})

# The unit names /usr/sbin/ferryd; another prefix gets its own path,
# written at install time, when the prefix is known (cpack chooses its
# own).
set(_ferry_unit ${CMAKE_BINARY_DIR}/pkg/ferryd.service)
install(CODE "
  file(READ \"${CMAKE_SOURCE_DIR}/contrib/systemd/ferryd.service\" _text)
  string(REPLACE \"/usr/sbin/ferryd\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/ferryd\"
    _text \"\${_text}\")
  file(WRITE \"${_ferry_unit}\" \"\${_text}\")
")
install(FILES ${_ferry_unit} DESTINATION ${FERRY_SYSTEMD_UNITDIR})

# Configuration: an existing file is the operator's, and a second
# `cmake --install` must not overwrite it (dpkg has its own conffile
# handling; its staging directory is always empty).
foreach(pair "contrib/ferryd.conf|ferry|ferryd.conf" "contrib/logrotate/ferryd|logrotate.d|ferryd")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 src)
  list(GET pair 1 dir)
  list(GET pair 2 name)
  set(dest "${FERRY_INSTALL_SYSCONFDIR}/${dir}")
  install(CODE "
    if(EXISTS \"\$ENV{DESTDIR}${dest}/${name}\")
      message(STATUS \"Keeping: \$ENV{DESTDIR}${dest}/${name} (already there)\")
    else()
      file(INSTALL DESTINATION \"${dest}\" TYPE FILE
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
        RENAME \"${name}\" FILES \"${CMAKE_SOURCE_DIR}/${src}\")
    endif()
  ")
endforeach()

# --- cpack -G DEB
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ferry)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "small, fast file-distribution daemon")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(FERRY_PACKAGE_MAINTAINER "ferry maintainers <root@localhost>" CACHE STRING
  "The .deb's Maintainer field")
set(CPACK_PACKAGE_CONTACT "${FERRY_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY; cpack indents these
# lines itself.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "ferryd serves the files of one directory over HTTP/1.1 and over ferry's
own binary protocol, on IPv4 and IPv6, from a supervised pool of worker
processes; small TCP services and a UDP publish/subscribe hub share the
pool. ferryctl inspects and controls a running ferryd through its admin
socket; ferry is the command-line client. Includes a systemd unit, a
logrotate file and a Wireshark dissector.")
# The libraries' packages come from the binaries themselves
# (dpkg-shlibdeps, from dpkg-dev, which build-essential brings); what
# the maintainer scripts run is declared by hand, and so is libuv 1.44,
# which the event workers need for more than its symbols (CMakeLists.txt).
find_program(DPKG_SHLIBDEPS dpkg-shlibdeps)
if(DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, libuv1 (>= 1.44)")
else()
  message(WARNING "dpkg-shlibdeps not found: the .deb declares Debian 12's library packages by name")
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "adduser, libc6, libuv1 (>= 1.44), libjansson4, libsqlite3-0, libsodium23, libinih1, libseccomp2")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "logrotate")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "tshark | wireshark")
file(WRITE ${CMAKE_BINARY_DIR}/pkg/conffiles
  "${FERRY_INSTALL_SYSCONFDIR}/ferry/ferryd.conf\n${FERRY_INSTALL_SYSCONFDIR}/logrotate.d/ferryd\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_BINARY_DIR}/pkg/conffiles
  ${CMAKE_SOURCE_DIR}/contrib/debian/postinst
  ${CMAKE_SOURCE_DIR}/contrib/debian/prerm
  ${CMAKE_SOURCE_DIR}/contrib/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
