//! Base images for lab hosts, built without a registry: a recipe under `images/` names a Debian
//! suite and packages; mmdebstrap makes a root filesystem tarball and the engine imports it.
//! The image is tagged with the recipe's content hash, so an unchanged recipe is never rebuilt.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use bollard::{self, query_parameters::CreateImageOptionsBuilder};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::engine::Engine;
use crate::errors::{Error, Result};
use crate::{Progress, Say};

mod layer;
mod recipes;
pub use layer::{LayerRecipe, Rebuild};
pub use recipes::Recipes;

/// Part of every recipe hash: bump it when the build steps below change what an image contains.
const BUILDER_REVISION: &str = "2";
pub const DEFAULT_RELEASE: &str = "bookworm";
const REPOSITORY_PREFIX: &str = "journal-lab/";
pub const RECIPE_LABEL: &str = "journal-lab.recipe";

/// An image recipe, as written in `images/<release>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Debian suite to bootstrap (bookworm, trixie, sid, ...).
    pub suite: String,
    pub mirror: String,
    pub packages: Vec<String>,
    /// Extra apt options for mmdebstrap (`--aptopt`).
    #[serde(default)]
    pub apt_options: Vec<String>,
    /// The systemd major version the suite ships: replay's nearest release for a field host is
    /// read from it. Not part of the recipe's hash (it changes nothing in the build).
    #[serde(default, skip_serializing)]
    pub systemd: Option<u32>,
}

/// A recipe resolved for one release: where it came from and which image it makes.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub release: String,
    /// The bootstrap recipe: this release's own, or for a layered recipe its base's.
    pub recipe: Recipe,
    /// Set for a layered recipe (`base:` + `rebuild:`): what is rebuilt on top of the base image.
    pub layer: Option<LayerRecipe>,
    pub path: PathBuf,
    /// First 16 hex digits of the SHA-256 over the builder revision and the recipe (for a
    /// layered recipe: the base image's hash, the layer and the rebuild script).
    pub hash: String,
}

impl ImageSpec {
    /// Reads the recipe of `release` (and, for a layered recipe, its base's).
    pub fn load(recipes: &Recipes, release: &str) -> Result<ImageSpec> {
        let spec = Self::load_file(recipes, release)?;
        let Some(layer) = &spec.layer else {
            return Ok(spec);
        };
        let base = Self::load_file(recipes, &layer.base)?;
        if base.layer.is_some() || base.release == spec.release {
            return Err(Error::BadRecipe {
                path: spec.path,
                message: format!(
                    "base {:?} is itself layered: a layered recipe goes on a bootstrap recipe \
                     (suite, mirror, packages)",
                    layer.base
                ),
            });
        }
        Ok(ImageSpec {
            hash: layer::layered_hash(&base.hash, layer),
            recipe: base.recipe,
            ..spec
        })
    }

    fn load_file(recipes: &Recipes, release: &str) -> Result<ImageSpec> {
        let path = recipes.path_of(release);
        let text = match recipes.text_of(release) {
            Some(text) if crate::pki::is_valid_name(release) => text?,
            _ => {
                return Err(Error::UnknownRelease {
                    release: release.to_string(),
                    available: recipes.releases().join(", "),
                    path,
                })
            }
        };
        let bad = |message: String| Error::BadRecipe {
            path: path.clone(),
            message,
        };
        let value: yaml_serde::Value =
            yaml_serde::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if value.get("base").is_some() {
            let layer: LayerRecipe = yaml_serde::from_str(&text).map_err(|e| bad(e.to_string()))?;
            layer.validate().map_err(bad)?;
            return Ok(ImageSpec {
                release: release.to_string(),
                // Replaced by the base's in `load`.
                recipe: Recipe {
                    suite: String::new(),
                    mirror: String::new(),
                    packages: Vec::new(),
                    apt_options: Vec::new(),
                    systemd: None,
                },
                hash: String::new(),
                layer: Some(layer),
                path,
            });
        }
        let recipe: Recipe = yaml_serde::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if recipe
            .packages
            .iter()
            .any(|p| p.contains(',') || p.trim().is_empty())
        {
            return Err(Error::BadRecipe {
                path,
                message: "package names must be non-empty and must not contain commas".into(),
            });
        }
        Ok(ImageSpec {
            release: release.to_string(),
            hash: recipe_hash(&recipe),
            recipe,
            layer: None,
            path,
        })
    }

    /// The same recipe with `extra` packages added: a variant image with a hash of its own (for
    /// a layered recipe, the packages go into its base, and the layer goes on that).
    pub fn with_packages(&self, extra: &[String]) -> ImageSpec {
        let mut recipe = self.recipe.clone();
        for package in extra {
            if !recipe.packages.contains(package) {
                recipe.packages.push(package.clone());
            }
        }
        let bootstrap_hash = recipe_hash(&recipe);
        ImageSpec {
            hash: match &self.layer {
                Some(layer) => layer::layered_hash(&bootstrap_hash, layer),
                None => bootstrap_hash,
            },
            recipe,
            ..self.clone()
        }
    }

    /// For a layered recipe, the image it is layered on.
    pub fn base(&self) -> Option<ImageSpec> {
        let layer = self.layer.as_ref()?;
        Some(ImageSpec {
            release: layer.base.clone(),
            hash: recipe_hash(&self.recipe),
            recipe: self.recipe.clone(),
            layer: None,
            path: self.path.with_file_name(format!("{}.yaml", layer.base)),
        })
    }

    pub fn repository(&self) -> String {
        format!("{REPOSITORY_PREFIX}{}", self.release)
    }

    /// `journal-lab/<release>:<hash>`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository(), self.hash)
    }
}

/// Releases with a recipe, sorted.
pub fn available_releases(recipes: &Recipes) -> Vec<String> {
    recipes.releases()
}

/// Every release with a recipe, with the systemd major version its recipe names (None for a
/// layered recipe, which rebuilds part of its base's systemd, and for one that does not say).
pub fn shipped(recipes: &Recipes) -> Vec<(String, Option<u32>)> {
    recipes
        .releases()
        .into_iter()
        .map(|release| {
            let systemd = ImageSpec::load(recipes, &release)
                .ok()
                .filter(|spec| spec.layer.is_none())
                .and_then(|spec| spec.recipe.systemd);
            (release, systemd)
        })
        .collect()
}

/// The recipe's identity: independent of comments and key order in the YAML file.
pub fn recipe_hash(recipe: &Recipe) -> String {
    let canonical = serde_json::to_string(recipe).expect("a recipe serializes");
    let digest = Sha256::new()
        .chain_update(BUILDER_REVISION)
        .chain_update([0])
        .chain_update(canonical)
        .finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Whether the image for `spec` already exists in the engine.
pub async fn exists(engine: &Engine, spec: &ImageSpec) -> Result<bool> {
    match engine.docker().inspect_image(&spec.reference()).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(Error::docker(format!(
            "looking for image {}",
            spec.reference()
        ))(e)),
    }
}

/// Makes sure the image for `spec` exists, building it (and for a layered recipe, its base) if
/// not. Returns whether it was built. Concurrent callers in one process build an image once.
pub async fn ensure(engine: &Engine, spec: &ImageSpec, progress: &Progress) -> Result<bool> {
    if let Some(base) = spec.base() {
        ensure_one(engine, &base, progress).await?;
    }
    ensure_one(engine, spec, progress).await
}

async fn ensure_one(engine: &Engine, spec: &ImageSpec, progress: &Progress) -> Result<bool> {
    let lock = build_lock(&spec.reference());
    let _guard = lock.lock().await;
    if exists(engine, spec).await? {
        return Ok(false);
    }
    match &spec.layer {
        Some(layer) => layer::build(engine, spec, layer, progress).await?,
        None => build(engine, spec, progress).await?,
    }
    Ok(true)
}

fn build_lock(reference: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    locks.entry(reference.to_string()).or_default().clone()
}

/// Generators that only matter on real hardware or a kernel command line (disks, TPMs,
/// hibernation, consoles, `systemd.run=`...), which a container has none of. Each runs as a
/// process at every boot; masking them (a symlink to /dev/null in /etc, systemd.generator(7))
/// cut a host's boot from ~0.31 to ~0.25 s of CPU (measured, bookworm), which is what bounds a
/// large lab on a small machine. Nothing the lab exercises is generated by them.
const CONTAINER_IRRELEVANT_GENERATORS: &[&str] = &[
    "systemd-bless-boot-generator",
    "systemd-cryptsetup-generator",
    "systemd-debug-generator",
    "systemd-factory-reset-generator",
    "systemd-getty-generator",
    "systemd-gpt-auto-generator",
    "systemd-hibernate-resume-generator",
    "systemd-import-generator",
    "systemd-integritysetup-generator",
    "systemd-run-generator",
    "systemd-ssh-generator",
    "systemd-system-update-generator",
    "systemd-tpm2-generator",
    "systemd-veritysetup-generator",
];

/// The mmdebstrap command line for a recipe, writing a tarball to `output`.
pub fn mmdebstrap_args(recipe: &Recipe, output: &Path) -> Vec<String> {
    let mut args = vec![
        "--variant=minbase".to_string(),
        format!("--include={}", recipe.packages.join(",")),
    ];
    args.extend(
        recipe
            .apt_options
            .iter()
            .map(|opt| format!("--aptopt={opt}")),
    );
    args.extend(
        [
            // An empty machine-id makes systemd generate a fresh one per container at boot.
            r#"--customize-hook=: > "$1/etc/machine-id""#,
            r#"--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin"#,
        ]
        .map(str::to_string),
    );
    args.push(format!(
        r#"--customize-hook=mkdir -p "$1/etc/systemd/system-generators" && for g in {}; do ln -sf /dev/null "$1/etc/systemd/system-generators/$g"; done"#,
        CONTAINER_IRRELEVANT_GENERATORS.join(" ")
    ));
    args.push(recipe.suite.clone());
    args.push(output.display().to_string());
    args.push(recipe.mirror.clone());
    args
}

async fn build(engine: &Engine, spec: &ImageSpec, progress: &Progress) -> Result<()> {
    let workdir = crate::temp_dir("journal-lab-image-")?;
    let tarball = workdir.path().join("rootfs.tar");
    progress.milestone(format!(
        "building image {} from {} (mmdebstrap {}; takes about half a minute)",
        spec.reference(),
        spec.path.display(),
        spec.recipe.suite
    ));
    run_mmdebstrap(
        &spec.release,
        &mmdebstrap_args(&spec.recipe, &tarball),
        |line| {
            if let Some(info) = line.strip_prefix("I: ") {
                progress.news(format!("  {}: {info}", spec.release));
            }
        },
    )
    .await?;
    progress.news(format!(
        "  {}: importing the root filesystem into the engine",
        spec.release
    ));
    import(engine, spec, &tarball).await?;
    progress.milestone(format!("image {} is ready", spec.reference()));
    Ok(())
}

/// Runs mmdebstrap with `args`, handing each line it writes to stderr to `on_line`; a failure
/// is an error carrying its last lines (ninja's progress lines left out).
async fn run_mmdebstrap(
    release: &str,
    args: &[String],
    mut on_line: impl FnMut(&str),
) -> Result<()> {
    let build_error = |detail: String| Error::ImageBuild {
        release: release.to_string(),
        detail,
    };
    if which("mmdebstrap").is_none() {
        return Err(Error::MissingTool {
            tool: "mmdebstrap",
            package: "mmdebstrap",
        });
    }
    let mut child = crate::stderr_piped("mmdebstrap", args)
        .spawn()
        .map_err(|e| build_error(format!("starting mmdebstrap: {e}")))?;
    let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
    let mut tail: Vec<String> = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        on_line(&line);
        if layer::is_ninja_progress(&line) {
            continue;
        }
        // Build tools print whole command lines; a tail is for reading.
        tail.push(match line.char_indices().nth(300) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line,
        });
        if tail.len() > 25 {
            tail.remove(0);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| build_error(format!("waiting for mmdebstrap: {e}")))?;
    if !status.success() {
        return Err(build_error(format!(
            "mmdebstrap exited with {status}; its last lines:\n{}",
            tail.join("\n")
        )));
    }
    Ok(())
}

/// `docker import` through the API, streaming the tarball from disk.
async fn import(engine: &Engine, spec: &ImageSpec, tarball: &Path) -> Result<()> {
    let file = tokio::fs::File::open(tarball)
        .await
        .map_err(Error::io("opening", tarball))?;
    let chunks = futures::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 1 << 20];
        match file.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((bytes::Bytes::from(buf), file))
            }
        }
    });
    let labels = BTreeMap::from([
        (RECIPE_LABEL, spec.hash.as_str()),
        ("journal-lab.release", &spec.release),
    ]);
    let mut changes = vec![
        r#"CMD ["/lib/systemd/systemd"]"#.to_string(),
        "ENV container=docker".to_string(),
    ];
    changes.extend(labels.iter().map(|(k, v)| format!("LABEL {k}={v}")));
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(&spec.repository())
        .tag(&spec.hash)
        .changes(changes)
        .build();
    let mut stream =
        engine
            .docker()
            .create_image(Some(options), Some(bollard::body_stream(chunks)), None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(Error::docker(format!(
            "importing image {}",
            spec.reference()
        )))?;
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            return Err(Error::ImageBuild {
                release: spec.release.clone(),
                detail: format!("the engine refused the import: {detail}"),
            });
        }
    }
    if !exists(engine, spec).await? {
        return Err(Error::ImageBuild {
            release: spec.release.clone(),
            detail: "the import finished but the image is not there".into(),
        });
    }
    Ok(())
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|candidate| candidate.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images_dir() -> Recipes {
        Recipes::built_in()
    }

    #[test]
    fn shipped_recipes_load_and_hash_distinctly() {
        let bookworm = ImageSpec::load(&images_dir(), "bookworm").unwrap();
        let trixie = ImageSpec::load(&images_dir(), "trixie").unwrap();
        assert_eq!(bookworm.recipe.suite, "bookworm");
        assert!(bookworm
            .recipe
            .packages
            .iter()
            .any(|p| p == "systemd-journal-remote"));
        assert_eq!(bookworm.hash.len(), 16);
        assert_ne!(bookworm.hash, trixie.hash);
        assert_eq!(
            bookworm.reference(),
            format!("journal-lab/bookworm:{}", bookworm.hash)
        );
    }

    #[test]
    fn hash_ignores_formatting_but_not_content() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            std::fs::write(tmp.path().join(format!("{name}.yaml")), text).unwrap()
        };
        write(
            "aa",
            "suite: bookworm\nmirror: http://m\npackages: [systemd, dbus]\n",
        );
        write(
            "bb",
            "# a comment\npackages:\n  - systemd\n  - dbus\nmirror: http://m\nsuite: bookworm\n",
        );
        write(
            "cc",
            "suite: bookworm\nmirror: http://m\npackages: [systemd, dbus, curl]\n",
        );
        let hash = |name| ImageSpec::load(&tmp.path().into(), name).unwrap().hash;
        assert_eq!(hash("aa"), hash("bb"));
        assert_ne!(hash("aa"), hash("cc"));
    }

    #[test]
    fn package_variants_get_their_own_hash() {
        let base = ImageSpec::load(&images_dir(), "bookworm").unwrap();
        let variant = base.with_packages(&["linux-base".to_string()]);
        assert_ne!(variant.hash, base.hash);
        assert_eq!(variant.repository(), base.repository());
        assert!(variant
            .recipe
            .packages
            .ends_with(&["linux-base".to_string()]));
        assert_eq!(base.with_packages(&[]).hash, base.hash);
        assert_eq!(
            base.with_packages(&["systemd".to_string()]).hash,
            base.hash,
            "already there"
        );
    }

    #[test]
    fn unknown_release_names_the_file_and_the_alternatives() {
        let err = ImageSpec::load(&images_dir(), "buster")
            .unwrap_err()
            .to_string();
        assert!(err.contains("buster.yaml"), "{err}");
        assert!(err.contains("bookworm") && err.contains("trixie"), "{err}");
        let err = ImageSpec::load(&images_dir(), "../etc/passwd").unwrap_err();
        assert!(matches!(err, Error::UnknownRelease { .. }));
    }

    #[test]
    fn recipe_with_unknown_key_is_rejected_with_its_location() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("xx.yaml"),
            "suite: bookworm\nmirror: http://m\npackagez: [systemd]\n",
        )
        .unwrap();
        let err = ImageSpec::load(&tmp.path().into(), "xx")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("xx.yaml") && err.contains("packagez") && err.contains("line 3"),
            "{err}"
        );
    }

    #[test]
    fn mmdebstrap_gets_packages_hooks_and_apt_options() {
        let sid = ImageSpec::load(&images_dir(), "sid").unwrap();
        let args = mmdebstrap_args(&sid.recipe, Path::new("/tmp/x.tar"));
        assert!(args.contains(&"--variant=minbase".to_string()));
        assert!(args
            .iter()
            .any(|a| a.starts_with("--include=systemd,systemd-sysv,systemd-journal-remote")));
        assert!(args.contains(&r#"--aptopt=Acquire::Check-Valid-Until "false""#.to_string()));
        assert!(args.iter().any(|a| a.starts_with("--customize-hook=")
            && a.contains("systemd-cryptsetup-generator")
            && a.contains("/etc/systemd/system-generators")));
        assert_eq!(
            &args[args.len() - 3..],
            ["sid", "/tmp/x.tar", "http://deb.debian.org/debian"]
        );
    }

    /// Every built-in recipe loads; every bootstrapped one names the systemd its suite ships
    /// (replay's nearest release is read from it), a layered one inherits none.
    #[test]
    fn every_recipe_loads_and_names_its_systemd() {
        let recipes = Recipes::built_in();
        let shipped = shipped(&recipes);
        assert_eq!(shipped.len(), recipes.releases().len());
        for (release, systemd) in &shipped {
            let spec = ImageSpec::load(&recipes, release).unwrap();
            match spec.layer {
                Some(_) => assert_eq!(*systemd, None, "{release}"),
                None => assert!(systemd.is_some_and(|v| v >= 240), "{release}: {systemd:?}"),
            }
        }
        let version = |name: &str| shipped.iter().find(|(r, _)| r == name).unwrap().1;
        assert!(version("bullseye") < version("bookworm") && version("bookworm") < version("sid"));
    }
}
