//! Layered images: part of a release rebuilt from Debian's own source package (say,
//! systemd-journal-remote with GnuTLS) and put on that release's image.
//!
//! The rebuild runs in a throwaway buildd chroot that mmdebstrap makes from the base recipe's
//! mirror (deb and deb-src), with `images/rebuild-from-source.sh`: Debian's configure flags plus
//! the recipe's meson options, only the named ninja targets. The rebuilt files then go on the
//! base image through the engine's builder (`FROM base`, `ADD`, a `RUN` that checks each rebuilt
//! binary starts and is the version the base image has installed): the tag is only set when
//! every step succeeded, so nothing half-built is ever tagged.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use bollard::{self, query_parameters::BuildImageOptionsBuilder};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{run_mmdebstrap, ImageSpec, Recipe, BUILDER_REVISION, RECIPE_LABEL};
use crate::engine::Engine;
use crate::errors::{Error, Result};
use crate::{Progress, Say};

/// The script the chroot runs. Embedded, so the hash covers exactly what is executed.
const REBUILD_SCRIPT: &str = include_str!("../../images/rebuild-from-source.sh");

/// What the first build of bookworm-gnutls took on the 2-core machine the lab is developed on
/// (142 s: bootstrap and build-dep 42 s, configure 14 s, 383 ninja steps 81 s); said up front so
/// nobody thinks it hangs.
const FIRST_BUILD_TIME: &str = "about 2½ minutes on 2 cores";

/// `images/<release>.yaml` with `base:`: a release's image with files rebuilt from source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerRecipe {
    /// The release (a bootstrap recipe under images/) this image is layered on.
    pub base: String,
    pub rebuild: Rebuild,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rebuild {
    /// The Debian source package, fetched with `apt-get source` from the base's suite.
    pub source: String,
    /// Packages installed besides the source package's own build dependencies.
    #[serde(default)]
    pub build_depends: Vec<String>,
    /// Appended to Debian's configure flags (later options win), e.g. `-Dgnutls=true`.
    #[serde(default)]
    pub meson_options: Vec<String>,
    /// ninja target → the absolute path in the image that the rebuilt file replaces.
    pub install: BTreeMap<String, String>,
}

fn is_word(s: &str, extra: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

impl LayerRecipe {
    /// Everything here ends up on a shell command line in the chroot: only plain words pass.
    pub(super) fn validate(&self) -> std::result::Result<(), String> {
        let rebuild = &self.rebuild;
        if !crate::pki::is_valid_name(&self.base) {
            return Err(format!("base {:?} is not a recipe name", self.base));
        }
        if !is_word(&rebuild.source, "+.-") {
            return Err(format!(
                "rebuild.source {:?} is not a Debian source package name",
                rebuild.source
            ));
        }
        if let Some(bad) = rebuild.build_depends.iter().find(|p| !is_word(p, "+.-:")) {
            return Err(format!(
                "rebuild.build_depends: {bad:?} is not a package name"
            ));
        }
        if let Some(bad) = rebuild.meson_options.iter().find(|o| {
            !(o.starts_with("-D")
                && o.contains('=')
                && is_word(&o[2..], "_-.=,/+")
                && !o.contains(".."))
        }) {
            return Err(format!(
                "rebuild.meson_options: {bad:?} is not of the form -Dname=value (letters, digits, _-.,/+)"
            ));
        }
        if rebuild.install.is_empty() {
            return Err("rebuild.install names no target: say which ninja target replaces which file (target: /absolute/path)".into());
        }
        for (target, path) in &rebuild.install {
            if !is_word(target, "_-.+/") || target.contains("..") || target.starts_with('/') {
                return Err(format!(
                    "rebuild.install: {target:?} is not a ninja target path"
                ));
            }
            if !path.starts_with('/') || !is_word(path, "_-.+/") || path.contains("..") {
                return Err(format!(
                    "rebuild.install.{target}: {path:?} is not an absolute path without .."
                ));
            }
        }
        Ok(())
    }
}

/// The identity of a layered image: its base image, the layer and the script that builds it.
pub(super) fn layered_hash(base_hash: &str, layer: &LayerRecipe) -> String {
    let canonical = serde_json::to_string(layer).expect("a layer recipe serializes");
    let digest = Sha256::new()
        .chain_update(BUILDER_REVISION)
        .chain_update([0])
        .chain_update(base_hash)
        .chain_update([0])
        .chain_update(canonical)
        .chain_update([0])
        .chain_update(REBUILD_SCRIPT)
        .finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// ninja's `[k/n]` lines, as the rebuild script passes them on: progress, not evidence.
pub(super) fn is_ninja_progress(line: &str) -> bool {
    ninja_step(line).is_some()
}

fn ninja_step(line: &str) -> Option<(u32, u32)> {
    let (done, total) = line.strip_prefix('[')?.strip_suffix(']')?.split_once('/')?;
    Some((done.parse().ok()?, total.parse().ok()?))
}

/// POSIX single quotes around `s`.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The mmdebstrap command line: a buildd chroot of the base's suite with deb-src, the script
/// run in it, its /out copied to `work_dir/out`, the chroot discarded.
pub(super) fn rebuild_args(recipe: &Recipe, layer: &LayerRecipe, work_dir: &Path) -> Vec<String> {
    let rebuild = &layer.rebuild;
    let targets: Vec<String> = rebuild
        .install
        .iter()
        .map(|(target, path)| quoted(&format!("{target}={path}")))
        .collect();
    let mut args = vec![
        "--variant=buildd".to_string(),
        "--include=fakeroot,ca-certificates".to_string(),
    ];
    args.extend(
        recipe
            .apt_options
            .iter()
            .map(|opt| format!("--aptopt={opt}")),
    );
    args.extend([
        format!(
            "--customize-hook=copy-in {} /tmp",
            work_dir.join("rebuild-from-source.sh").display()
        ),
        format!(
            r#"--customize-hook=chroot "$1" sh /tmp/rebuild-from-source.sh {} {} {} {}"#,
            quoted(&rebuild.source),
            quoted(&rebuild.build_depends.join(" ")),
            quoted(&rebuild.meson_options.join(" ")),
            targets.join(" ")
        ),
        format!("--customize-hook=copy-out /out {}", work_dir.display()),
        recipe.suite.clone(),
        "/dev/null".to_string(),
        format!("deb {} {} main", recipe.mirror, recipe.suite),
        format!("deb-src {} {} main", recipe.mirror, recipe.suite),
    ]);
    args
}

/// The shell the layered image's `RUN` checks its rebuilt files with: each binary starts (its
/// libraries resolve in the image) and comes from the source version of the package that owns
/// the file it replaces.
fn checks(base: &str, layer: &LayerRecipe, version: &str) -> String {
    let mut checks = Vec::new();
    for path in layer.rebuild.install.values() {
        checks.push(format!(
            "p={p}; owner=$(dpkg -S \"$p\" 2>/dev/null || dpkg -S \"${{p#/usr}}\" 2>/dev/null) || true; \
             installed=$(dpkg-query -W -f '${{source:Version}}' \"${{owner%%:*}}\" 2>/dev/null) || true; \
             [ \"$installed\" = {v} ] || {{ echo \"journal-lab: $p belongs to version '$installed' in the \
             base image but the rebuilt source is {v}: the mirror moved on since the base image was built; \
             remove it (docker rmi {base}) and build again\"; exit 1; }}; \"$p\" --version",
            p = quoted(path),
            v = quoted(version),
        ));
    }
    checks.join("; ")
}

/// The image holding only the rebuilt files (`FROM scratch`): made once per suite, mirror and
/// layer, whatever packages a scenario adds to the base, and copied onto every variant.
fn rebuilt_reference(spec: &ImageSpec, layer: &LayerRecipe) -> String {
    let recipe = &spec.recipe;
    let canonical =
        serde_json::to_string(&(&recipe.suite, &recipe.mirror, &recipe.apt_options, layer))
            .expect("serializes");
    let digest = Sha256::new()
        .chain_update(BUILDER_REVISION)
        .chain_update([0])
        .chain_update(canonical)
        .chain_update([0])
        .chain_update(REBUILD_SCRIPT)
        .finalize();
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{}-rebuilt:{hash}", spec.repository())
}

/// The label of the rebuilt image that says which source version it was built from.
const VERSION_LABEL: &str = "journal-lab.rebuilt-version";

/// Builds the layered image for `spec` (its base image must exist), rebuilding the files first
/// if no image holds them yet.
pub(super) async fn build(
    engine: &Engine,
    spec: &ImageSpec,
    layer: &LayerRecipe,
    progress: &Progress,
) -> Result<()> {
    let started = Instant::now();
    let base = spec.base().expect("a layered spec has a base");
    let rebuilt = rebuilt_reference(spec, layer);
    let version = {
        let lock = super::build_lock(&rebuilt);
        let _guard = lock.lock().await;
        match rebuilt_version(engine, &rebuilt).await? {
            Some(version) => version,
            None => rebuild(engine, spec, layer, &rebuilt, progress).await?,
        }
    };
    progress.news(format!(
        "  {}: putting the rebuilt files on {} and checking they run",
        spec.release,
        base.reference()
    ));
    let dockerfile = format!(
        "FROM {}\nCOPY --from={rebuilt} / /\nRUN set -e; {}\n",
        base.reference(),
        checks(&base.reference(), layer, &version)
    );
    let labels = HashMap::from([
        (RECIPE_LABEL.to_string(), spec.hash.clone()),
        ("journal-lab.release".to_string(), spec.release.clone()),
        (
            "journal-lab.rebuilt".to_string(),
            format!("{} {version}", layer.rebuild.source),
        ),
    ]);
    build_image(
        engine,
        &spec.release,
        &spec.reference(),
        &dockerfile,
        None,
        labels,
    )
    .await?;
    if !super::exists(engine, spec).await? {
        return Err(Error::ImageBuild {
            release: spec.release.clone(),
            detail: "the engine built no image".into(),
        });
    }
    progress.milestone(format!(
        "image {} is ready ({} {version} rebuilt, {:.0} s)",
        spec.reference(),
        layer.rebuild.source,
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The source version the rebuilt image at `reference` was made from; None if there is none.
async fn rebuilt_version(engine: &Engine, reference: &str) -> Result<Option<String>> {
    match engine.docker().inspect_image(reference).await {
        Ok(image) => Ok(image
            .config
            .and_then(|c| c.labels)
            .and_then(|l| l.get(VERSION_LABEL).cloned())),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(Error::docker(format!("looking for image {reference}"))(e)),
    }
}

/// The rebuild proper: the chroot, the script, and an image of what it produced. Returns the
/// source version.
async fn rebuild(
    engine: &Engine,
    spec: &ImageSpec,
    layer: &LayerRecipe,
    rebuilt: &str,
    progress: &Progress,
) -> Result<String> {
    let build_error = |detail: String| Error::ImageBuild {
        release: spec.release.clone(),
        detail,
    };
    progress.milestone(format!(
        "rebuilding {} from Debian's {} source of {} ({}) into {rebuilt}; the first build takes \
         {FIRST_BUILD_TIME}, later runs reuse it",
        layer
            .rebuild
            .install
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        layer.rebuild.source,
        spec.recipe.suite,
        layer.rebuild.meson_options.join(" "),
    ));
    let work_dir = crate::temp_dir("journal-lab-layer-")?;
    let script = work_dir.path().join("rebuild-from-source.sh");
    std::fs::write(&script, REBUILD_SCRIPT).map_err(Error::io("writing", &script))?;
    let mut decile = 0;
    run_mmdebstrap(
        &spec.release,
        &rebuild_args(&spec.recipe, layer, work_dir.path()),
        |line| {
            if let Some((done, total)) = ninja_step(line) {
                if total > 0 && done * 10 / total > decile {
                    decile = done * 10 / total;
                    progress.news(format!("  {}: ninja {done}/{total}", spec.release));
                }
            } else if let Some(said) = line
                .strip_prefix("journal-lab: ")
                .or_else(|| line.strip_prefix("I: "))
            {
                progress.news(format!("  {}: {said}", spec.release));
            }
        },
    )
    .await?;
    let out = work_dir.path().join("out");
    let provenance_path = out.join("provenance");
    let provenance = std::fs::read_to_string(&provenance_path)
        .map_err(Error::io("reading", &provenance_path))?;
    let version = provenance
        .lines()
        .find_map(|l| l.strip_prefix("version="))
        .ok_or_else(|| build_error(format!("{provenance_path:?} names no version")))?
        .to_string();
    let tree = tree_archive(&out.join("root"))
        .map_err(|e| build_error(format!("packing the rebuilt files: {e}")))?;
    let labels = HashMap::from([
        (VERSION_LABEL.to_string(), version.clone()),
        (
            "journal-lab.rebuilt".to_string(),
            format!("{} {version}", layer.rebuild.source),
        ),
    ]);
    build_image(
        engine,
        &spec.release,
        rebuilt,
        "FROM scratch\nADD rebuilt.tar /\n",
        Some(tree),
        labels,
    )
    .await?;
    Ok(version)
}

/// Builds `dockerfile` (with `rebuilt.tar` beside it, if given) as `tag`; the engine tags only
/// an image whose every step succeeded. A failed step is an error with the builder's last lines.
async fn build_image(
    engine: &Engine,
    release: &str,
    tag: &str,
    dockerfile: &str,
    tree: Option<Vec<u8>>,
    labels: HashMap<String, String>,
) -> Result<()> {
    let build_error = |detail: String| Error::ImageBuild {
        release: release.to_string(),
        detail,
    };
    let context = build_context(dockerfile, tree.as_deref())
        .map_err(|e| build_error(format!("packing the build context: {e}")))?;
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .networkmode("none")
        .labels(&labels)
        .build();
    let mut stream =
        engine
            .docker()
            .build_image(options, None, Some(bollard::body_full(context.into())));
    let mut said = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(Error::docker(format!("building {tag}")))?;
        if let Some(text) = info.stream {
            said.extend(text.lines().map(str::to_string));
        }
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            let tail = said[said.len().saturating_sub(15)..].join("\n");
            return Err(build_error(format!(
                "building {tag} failed: {detail}\n{tail}"
            )));
        }
    }
    Ok(())
}

/// The rebuilt tree as a tar.
fn tree_archive(root: &Path) -> std::io::Result<Vec<u8>> {
    let mut rebuilt = tar::Builder::new(Vec::new());
    rebuilt.follow_symlinks(false);
    rebuilt.append_dir_all(".", root)?;
    rebuilt.into_inner()
}

/// The build context: the Dockerfile and, if given, the rebuilt tree as one tar beside it.
fn build_context(dockerfile: &str, tree: Option<&[u8]>) -> std::io::Result<Vec<u8>> {
    let mut context = tar::Builder::new(Vec::new());
    let files = [
        ("Dockerfile", Some(dockerfile.as_bytes())),
        ("rebuilt.tar", tree),
    ];
    for (name, bytes) in files {
        let Some(bytes) = bytes else { continue };
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        context.append_data(&mut header, name, bytes)?;
    }
    context.into_inner()
}

#[cfg(test)]
mod tests;
