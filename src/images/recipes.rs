//! Where image recipes come from: built into the binary (every command), or a directory.

use std::path::{Path, PathBuf};

use crate::errors::{Error, Result};

/// The recipes under `images/`, built into the binary: an installed `journal-lab` reads nothing
/// from the tree it was compiled in. A test compares this list with the directory.
const BUILT_IN: &[(&str, &str)] = &[
    ("bookworm", include_str!("../../images/bookworm.yaml")),
    (
        "bookworm-gnutls",
        include_str!("../../images/bookworm-gnutls.yaml"),
    ),
    ("bullseye", include_str!("../../images/bullseye.yaml")),
    ("forky", include_str!("../../images/forky.yaml")),
    ("sid", include_str!("../../images/sid.yaml")),
    ("trixie", include_str!("../../images/trixie.yaml")),
];

/// Where image recipes come from: the ones built into the binary (what every command uses), or
/// a directory of `<release>.yaml` files (tests of the recipe format, a user's own recipes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Recipes {
    #[default]
    BuiltIn,
    Dir(PathBuf),
}

impl Recipes {
    pub fn built_in() -> Recipes {
        Recipes::BuiltIn
    }

    /// Where a release's recipe is, for messages (`images/<release>.yaml` for a built-in one).
    pub fn path_of(&self, release: &str) -> PathBuf {
        match self {
            Recipes::BuiltIn => Path::new("images").join(format!("{release}.yaml")),
            Recipes::Dir(dir) => dir.join(format!("{release}.yaml")),
        }
    }

    /// A release's recipe text; None when there is no such recipe.
    pub(super) fn text_of(&self, release: &str) -> Option<Result<String>> {
        match self {
            Recipes::BuiltIn => BUILT_IN
                .iter()
                .find(|(name, _)| *name == release)
                .map(|(_, text)| Ok(text.to_string())),
            Recipes::Dir(dir) => {
                let path = dir.join(format!("{release}.yaml"));
                path.is_file()
                    .then(|| std::fs::read_to_string(&path).map_err(Error::io("reading", &path)))
            }
        }
    }

    /// The releases with a recipe, sorted.
    pub fn releases(&self) -> Vec<String> {
        let mut releases: Vec<String> = match self {
            Recipes::BuiltIn => BUILT_IN.iter().map(|(name, _)| name.to_string()).collect(),
            Recipes::Dir(dir) => std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().into_string().ok()?;
                    name.strip_suffix(".yaml").map(str::to_string)
                })
                .collect(),
        };
        releases.sort();
        releases
    }
}

impl From<PathBuf> for Recipes {
    fn from(dir: PathBuf) -> Recipes {
        Recipes::Dir(dir)
    }
}

impl From<&Path> for Recipes {
    fn from(dir: &Path) -> Recipes {
        Recipes::Dir(dir.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_recipes_are_the_images_directory() {
        let dir = Recipes::from(Path::new(env!("CARGO_MANIFEST_DIR")).join("images"));
        assert_eq!(Recipes::built_in().releases(), dir.releases());
        for release in dir.releases() {
            assert_eq!(
                Recipes::built_in().text_of(&release).unwrap().unwrap(),
                dir.text_of(&release).unwrap().unwrap(),
                "{release}"
            );
        }
    }
}
