#!/usr/bin/env bash
# Install a dataset into burn-dataset's cache from local files, so that no download is needed.
#
#   bash datasets/install.sh mnist   SRC_DIR   # SRC_DIR holds the 4 original MNIST .gz files
#   bash datasets/install.sh cifar10 SRC_DIR   # SRC_DIR holds cifar10.tar.gz (or fast.ai's cifar10.tgz)
#
# Destination: ${XDG_CACHE_HOME:-$HOME/.cache}/burn-dataset/, the folder burn-dataset's
# MnistDataset and CifarDataset read. Files that are already installed are left alone.
set -euo pipefail

usage() {
    cat >&2 <<USAGE
usage: bash $0 DATASET SRC_DIR

  DATASET  mnist or cifar10
  SRC_DIR  mnist:   folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
                    t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz
           cifar10: folder with cifar10.tar.gz (or cifar10.tgz) whose members are
                    cifar10/{train,test}/<class>/*.png

Installs into \${XDG_CACHE_HOME:-\$HOME/.cache}/burn-dataset/ (now: $ROOT).
Example: bash $0 mnist ../shared/datasets/mnist
USAGE
    exit 2
}

ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/burn-dataset"
[[ $# -eq 2 ]] || usage
DATASET="$1"
SRC="$2"
[[ -d "$SRC" ]] || { echo "error: SRC_DIR '$SRC' is not a folder" >&2; usage; }

# gunzip SRC/NAME.gz into DEST_DIR/NAME unless it is already there (written via a temp file).
install_gz() {
    local name="$1" dest_dir="$2"
    local src="$SRC/$name.gz" dest="$dest_dir/$name"
    if [[ -s "$dest" ]]; then
        echo "present: $dest"
        return
    fi
    [[ -f "$src" ]] || { echo "error: missing $src" >&2; exit 1; }
    mkdir -p "$dest_dir"
    gunzip -c "$src" > "$dest.tmp.$$"
    mv "$dest.tmp.$$" "$dest"
    echo "installed: $dest"
}

install_mnist() {
    install_gz train-images-idx3-ubyte "$ROOT/mnist/train"
    install_gz train-labels-idx1-ubyte "$ROOT/mnist/train"
    install_gz t10k-images-idx3-ubyte "$ROOT/mnist/test"
    install_gz t10k-labels-idx1-ubyte "$ROOT/mnist/test"
}

install_cifar10() {
    local dest="$ROOT/cifar10"
    if [[ -e "$dest" ]]; then
        # burn-dataset only checks that this folder exists; check it is complete as well.
        local n_train n_test
        n_train=$(find "$dest/train" -type f 2>/dev/null | wc -l)
        n_test=$(find "$dest/test" -type f 2>/dev/null | wc -l)
        if [[ "$n_train" -eq 50000 && "$n_test" -eq 10000 ]]; then
            echo "present: $dest (50000 train, 10000 test images)"
            return
        fi
        echo "error: $dest exists but is incomplete ($n_train train, $n_test test images);" \
            "remove it and run again" >&2
        exit 1
    fi
    local archive=""
    for f in "$SRC/cifar10.tar.gz" "$SRC/cifar10.tgz"; do
        [[ -f "$f" ]] && { archive="$f"; break; }
    done
    [[ -n "$archive" ]] || { echo "error: no cifar10.tar.gz or cifar10.tgz in $SRC" >&2; exit 1; }
    mkdir -p "$ROOT"
    # Unpack next to the destination, then move into place, so an interrupted run leaves no
    # half-filled cifar10/ folder behind (burn-dataset would take that one as installed).
    TMP_DIR=$(mktemp -d "$ROOT/.cifar10-install.XXXXXX")
    trap 'rm -rf "$TMP_DIR"' EXIT
    tar -xzf "$archive" -C "$TMP_DIR"
    [[ -d "$TMP_DIR/cifar10/train" && -d "$TMP_DIR/cifar10/test" ]] \
        || { echo "error: $archive does not contain cifar10/{train,test}/" >&2; exit 1; }
    mv "$TMP_DIR/cifar10" "$dest"
    echo "installed: $dest"
}

case "$DATASET" in
    mnist) install_mnist ;;
    cifar10) install_cifar10 ;;
    *) echo "error: unknown dataset '$DATASET'" >&2; usage ;;
esac
