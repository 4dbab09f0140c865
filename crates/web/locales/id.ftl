# Halaman kunci dalam Bahasa Indonesia. Setiap pesan di sini punya kembarannya di en.ftl
# (sebuah tes menjaga keduanya sama); templat memintanya dengan t("id-pesan").

## Kerangka setiap halaman

site-name = kunci
nav-home = Beranda
nav-account = Akun saya
nav-admin = Konsol
nav-keys = Kunci API
nav-sign-in = Masuk
nav-sign-out = Keluar
nav-skip = Langsung ke isi
signed-in-as = Masuk sebagai { $name }
language-label = Bahasa
language-switch = English
language-switch-hint = Read this page in English

## Beranda

home-title = Selamat datang
home-signed-in = Anda masuk sebagai { $name }.
home-guest = Anda menjelajah sebagai tamu. Peramban Anda punya sesinya sendiri; tidak ada lagi yang perlu dilakukan.
home-scopes = Cakupan
home-idle-until = Sesi berakhir jika tidak aktif pada

## Terlarang

forbidden-title = Akses ditolak
forbidden-body = Halaman ini tidak tersedia untuk Anda. Sesi Anda tidak memiliki akses yang diperlukan, atau peramban Anda menolak cookie yang dibutuhkan situs ini agar Anda tetap masuk.
forbidden-cookies = Jika cookie diblokir, izinkan cookie untuk situs ini lalu mulai lagi.
forbidden-start-again = Mulai lagi
forbidden-other-account = Masuk sebagai pengguna lain

## Masuk

login-title = Masuk
login-expired = Sesi Anda telah berakhir. Masuk lagi untuk melanjutkan.
login-username = Nama pengguna
login-password = Kata sandi
login-submit = Masuk
login-invalid-credentials = Nama pengguna atau kata sandi salah.
login-password-too-long = Kata sandi paling panjang 256 bita.
login-locked = Terlalu banyak percobaan masuk yang gagal untuk akun ini. Coba lagi nanti.
login-too-many = Terlalu banyak percobaan masuk dari jaringan Anda. Tunggu satu menit, lalu coba lagi.
login-busy = Akun ini sedang dalam proses masuk saat ini. Coba lagi sebentar lagi.
login-unavailable = Saat ini belum bisa masuk. Coba lagi sebentar lagi.

## Akun saya

account-title = Akun saya
account-sessions = Tempat Anda masuk
account-sessions-hint = Setiap peramban dan aplikasi yang masuk ke akun Anda. Akhiri yang tidak Anda kenali.
account-col-kind = Perangkat
account-col-created = Masuk pada
account-col-last-seen = Terakhir aktif
account-kind-browser = Peramban
account-kind-app = Aplikasi ({ $client })
account-this-one = yang ini
account-end = Akhiri
account-not-me = Ini bukan saya: akhiri semua sesi lain
account-not-me-hint = Mengakhiri setiap sesi dan login aplikasi akun Anda kecuali peramban ini. Ganti juga kata sandi Anda jika orang lain mengetahuinya.
account-password = Ganti kata sandi
account-password-current = Kata sandi saat ini
account-password-new = Kata sandi baru
account-password-confirm = Ulangi kata sandi baru
account-password-hint = Paling sedikit { $min } karakter. Semua sesi lain akun Anda akan berakhir.
account-password-submit = Ganti kata sandi
account-password-wrong = Kata sandi saat ini salah.
account-password-short = Kata sandi baru harus paling sedikit { $min } karakter.
account-password-long = Kata sandi baru lebih panjang dari 256 bita.
account-password-mismatch = Kedua kata sandi baru tidak sama.
account-password-locked = Terlalu banyak kata sandi salah untuk akun ini. Coba lagi nanti.
account-notice-ended = Sesi itu telah diakhiri.
account-notice-others_ended = Semua sesi lain telah diakhiri.
account-notice-password_changed = Kata sandi Anda telah diganti, dan semua sesi lain telah diakhiri.
account-notice-failed = Perubahan tidak dapat dilakukan; coba lagi.

## Akun (administrator)

nav-accounts = Akun
accounts-title = Akun
accounts-search = Cari nama
accounts-search-submit = Cari
accounts-count = { $count ->
    [one] Satu akun
   *[other] { $count } akun
}
accounts-col-name = Nama
accounts-col-access = Akses
accounts-col-created = Dibuat
accounts-admin = administrator
accounts-user = pengguna
accounts-active = aktif
accounts-disabled = nonaktif
accounts-locked = terkunci sampai
accounts-enable = Aktifkan
accounts-disable = Nonaktifkan
accounts-unlock = Buka kunci
accounts-pages = Halaman daftar akun
accounts-previous = Sebelumnya
accounts-next = Berikutnya
accounts-page = Halaman { $page } dari { $pages }
accounts-empty = Tidak ada akun dengan nama itu.
accounts-add = Tambah akun
accounts-add-admin = Administrator (melihat halaman ini dan kunci API)
accounts-add-hint = Kata sandi paling sedikit { $min } karakter. Sampaikan kepada orangnya lewat jalur lain; ia dapat menggantinya di halamannya sendiri.
accounts-add-submit = Tambah akun
accounts-error-name = Nama terdiri dari 1 sampai 64 karakter a–z, 0–9 dan . _ @ + - (dibandingkan dalam huruf kecil).
accounts-error-exists = Akun dengan nama itu sudah ada.
accounts-error-short = Kata sandi harus paling sedikit { $min } karakter.
accounts-error-long = Kata sandi lebih panjang dari 256 bita.
accounts-notice-added = Akun telah ditambahkan.
accounts-notice-disabled = Akun dinonaktifkan: upaya masuknya ditolak.
accounts-notice-enabled = Akun dapat masuk lagi.
accounts-notice-unlocked = Kunci nama dibuka; percobaan masuk yang gagal dilupakan.
accounts-notice-not_locked = Nama itu tidak sedang terkunci.
accounts-notice-not_yourself = Anda tidak dapat menonaktifkan akun Anda sendiri di sini: administrator lain dapat melakukannya, atau gunakan `kunci user disable`.

## Kunci API

keys-title = Kunci API
keys-add = Tambah kunci
keys-field-key = Kunci
keys-field-upstream = Layanan hulu
keys-field-priority = Prioritas
keys-field-group = Grup kuota
keys-field-group-placeholder = project_number:123 (opsional)
keys-field-budget = Anggaran harian
keys-field-budget-placeholder = (opsional)
keys-submit = Tambah kunci
keys-no-upstream = Belum ada layanan hulu yang dikonfigurasi: tambahkan tabel [upstream.<nama>] beserta adapter-nya (docs/api-keys.md).
keys-list = Daftar kunci
keys-test-hint = Uji melakukan satu panggilan sungguhan dengan kunci tersebut: satu panggilan dari kuota kunci terpakai, dan seorang administrator boleh menjalankan paling banyak lima kali per menit.
keys-col-key = Kunci
keys-col-upstream = Layanan hulu
keys-col-status = Status
keys-col-priority = Prioritas
keys-col-group = Grup
keys-col-uses = Pemakaian
keys-col-last-used = Terakhir dipakai
keys-col-back-at = Aktif lagi pada
keys-col-last-error = Galat terakhir
keys-col-actions = Tindakan
keys-back-in = { $minutes } menit lagi
keys-uses-today = { $used }/{ $budget } hari ini
keys-enable = Aktifkan
keys-disable = Nonaktifkan
keys-test = Uji
keys-test-title = Satu panggilan sungguhan: memakai kuota
keys-delete = Hapus
keys-manage = Ubah atau hapus
key-title = Kunci { $key }
key-change = Ubah
key-change-hint = Grup kuota atau anggaran harian yang dikosongkan akan dihapus. Kunci dalam satu grup kuota berbagi kuota hariannya: bila satu habis, semuanya beristirahat.
key-save = Simpan
key-delete = Hapus kunci ini
key-delete-what = Permintaan berhenti memakai kunci ini seketika, di setiap instans. Riwayat pemakaiannya tetap ada di log audit. Ini tidak dapat dibatalkan: untuk memakai kunci ini lagi, tambahkan kembali.
key-delete-confirm = Ya, hapus kunci ini
keys-empty = Belum ada kunci.
keys-top = Pemakaian terbanyak
keys-top-account = Akun
keys-top-calls = Panggilan
keys-top-empty = Belum ada panggilan.
keys-status-active = aktif
keys-status-cooling = jeda sejenak
keys-status-quota_exceeded = kuota habis
keys-status-probing = sedang diuji
keys-status-invalid = tidak sah
keys-status-disabled = nonaktif

## Pesan setelah perubahan di halaman kunci

notice-added = Kunci telah ditambahkan.
notice-updated = Kunci telah diperbarui.
notice-deleted = Kunci telah dihapus.
notice-duplicate = Kunci ini sudah ada di dalam kumpulan.
notice-bad_format = Itu tidak tampak seperti kunci untuk layanan hulu ini.
notice-bad_upstream = Tidak ada layanan hulu dengan nama itu yang dikonfigurasi.
notice-bad_input = Prioritas dan anggaran harian berupa bilangan bulat (anggaran paling sedikit 1); grup kuota paling panjang 128 karakter, tanpa karakter kendali.
notice-unknown = Kunci itu tidak ada.
notice-failed = Perubahan tidak dapat dilakukan; lihat log.
notice-test_served = Uji: layanan hulu menjawab; kunci berfungsi.
notice-test_invalid = Uji: layanan hulu menolak kunci ini; kunci ditandai tidak sah.
notice-test_quota_exceeded = Uji: kuota kunci sudah habis; kunci beristirahat sampai waktu yang ditampilkan.
notice-test_cooling = Uji: layanan hulu membatasi atau gagal; kunci beristirahat sebentar.
notice-test_client_error = Uji: layanan hulu menolak permintaannya sendiri (periksa konfigurasi layanan hulu); kunci tidak disalahkan.
notice-test_unreachable = Uji: layanan hulu tidak dapat dihubungi.
notice-test_untestable = Kunci untuk layanan hulu ini tidak bisa diuji: atur test_path-nya.
notice-confirm_delete = Centang konfirmasi untuk menghapus kunci.
notice-test_limited = Terlalu banyak uji: setiap uji memakai kuota. Tunggu satu menit.

## Judul galat API (problem+json), menurut kodenya yang tetap

problem-not_found = Sumber daya itu tidak ada.
problem-method_not_allowed = Metode ini tidak diizinkan pada sumber daya ini.
problem-not_ready = Layanan belum siap.
problem-unauthenticated = Autentikasi diperlukan.
problem-session_expired = Sesi telah berakhir; masuk lagi.
problem-insufficient_scope = Ini memerlukan cakupan yang tidak dimiliki sesi.
problem-store_unavailable = Penyimpanan yang dibutuhkan permintaan ini tidak tersedia; coba lagi sebentar lagi.
problem-bad_signature = Tanda tangan permintaan tidak dapat diverifikasi.
problem-stale_timestamp = Stempel waktu permintaan berselisih lebih dari 300 detik dari jam server.
problem-replayed_nonce = Nonce ini sudah pernah dipakai; tanda tangani setiap permintaan dengan yang baru.
problem-payload_too_large = Badan permintaan terlalu besar.
problem-uri_too_long = URI permintaan terlalu panjang.
problem-headers_too_large = Header permintaan terlalu besar.
problem-csrf_failed = Permintaan tidak membawa token CSRF yang sah atau berasal dari situs lain.
problem-invalid_credentials = Nama pengguna atau kata sandi salah.
problem-password_too_long = Kata sandi paling panjang 256 bita.
problem-invalid_request = Badan permintaan tidak sah untuk sumber daya ini.
problem-token_expired = Token akses telah kedaluwarsa; perbarui lalu coba lagi.
problem-invalid_token = Token akses tidak sah.
problem-invalid_grant = Token penyegaran tidak sah; masuk lagi.
problem-account_locked = Terlalu banyak percobaan masuk yang gagal untuk akun ini; coba lagi nanti.
problem-rate_limited = Terlalu banyak permintaan; perlambat.
problem-no_api_key_available = Saat ini tidak ada kunci API yang tersedia untuk layanan hulu ini.
problem-upstream_config_error = Layanan hulu menolak permintaan karena formatnya salah: periksa konfigurasinya.
problem-upstream_throttled = Layanan hulu sedang membatasi kita; coba lagi nanti.
problem-upstream_unavailable = Layanan hulu tidak dapat dihubungi.
problem-duplicate_api_key = Kunci ini sudah ada di dalam kumpulan.
problem-invalid_api_key = Kunci ini tidak memiliki format yang dipakai layanan hulu ini.
problem-internal_error = Terjadi kesalahan di sisi kami.

## Tanggal

date-never = —
# Waktu di halaman, dalam UTC (skrip halaman menampilkannya dalam zona waktu pembaca).
date-time = { $day } { $month } { $year } pukul { $hour }.{ $minute } UTC
month-1 = Jan
month-2 = Feb
month-3 = Mar
month-4 = Apr
month-5 = Mei
month-6 = Jun
month-7 = Jul
month-8 = Agu
month-9 = Sep
month-10 = Okt
month-11 = Nov
month-12 = Des

## Navigasi konsol

console-nav = Konsol
console-overview = Ringkasan
console-signing-keys = Kunci penanda tangan
console-clients = Klien layanan
console-audit = Log audit

## Kunci penanda tangan

signing-title = Kunci penanda tangan
signing-intro = Satu cincin kunci menandatangani token sesi, token CSRF, dan token akses. Setiap keperluan punya satu kunci aktif; setelah rotasi, kunci sebelumnya tetap memverifikasi apa yang pernah ditandatanganinya sampai jangka waktunya habis, lalu dipensiunkan oleh jadwal.
signing-col-kid = ID kunci
signing-col-purpose = Menandatangani
signing-col-created = Dibuat
signing-col-since = Dalam keadaan ini sejak
signing-col-verifications = Verifikasi
signing-purpose-cookie = token sesi dan CSRF
signing-purpose-jwt = token akses (JWT)
signing-state-active = aktif
signing-state-verify = hanya memverifikasi
signing-state-retired = pensiun
signing-age = { $days ->
    [0] belum sehari
   *[other] berumur { $days } hari
}
signing-retire = Pensiunkan
signing-rotate-title = Rotasi
signing-rotate-what = Rotasi membuat kunci aktif yang baru. Kunci sebelumnya tetap memverifikasi, jadi rotasi tidak mengeluarkan siapa pun. Setiap instans memakai kunci baru dalam dua detik.
signing-rotate-cookie = Rotasi kunci sesi
signing-rotate-jwt = Rotasi kunci token akses
signing-notice-rotated_cookie = Kunci sesi telah dirotasi. Kunci sebelumnya masih memverifikasi.
signing-notice-rotated_jwt = Kunci token akses telah dirotasi. Kunci sebelumnya masih memverifikasi dan tetap ada di JWKS.
signing-notice-retired = Kunci telah dipensiunkan: tidak memverifikasi apa pun lagi, di setiap instans.
signing-notice-not_verify = Hanya kunci yang tinggal memverifikasi yang dapat dipensiunkan: kunci aktif harus diganti dulu lewat rotasi.
signing-retire-title = Pensiunkan { $kid }?
signing-retire-what-title = Yang berakhir bila dipensiunkan
signing-retire-cookie = Setiap token sesi dan token CSRF yang ditandatangani { $kid } langsung tidak lolos verifikasi. Peramban yang sudah masuk tetap memegang sesinya: pada permintaan berikutnya mereka mendapat token dari kunci aktif. Formulir yang dibuka sebelumnya dan ditandatangani { $kid } ditolak sekali; mengirimnya lagi akan berhasil.
signing-retire-jwt = Setiap token akses yang ditandatangani { $kid } langsung ditolak, di sini dan oleh setiap layanan yang memeriksa JWKS kunci. Aplikasi harus memperbarui token (token penyegarannya tetap berlaku); sampai itu, panggilannya mendapat 401. Sesi peramban tidak terpengaruh.
signing-retire-count = { $count ->
    [0] Kunci ini belum pernah dipakai untuk verifikasi.
   *[other] Kunci ini telah melayani { $count } verifikasi.
}
signing-retire-instead = Jadwal akan memensiunkan kunci ini sendiri saat jangka waktunya habis. Pensiunkan sekarang hanya jika kunci ini mungkin bocor.
signing-retire-confirm = Saya mengerti bahwa { $kid } langsung berhenti memverifikasi.

## Klien layanan

clients-title = Klien layanan
clients-intro = Klien layanan adalah program lain (tugas penagihan, tugas deploy, backend) yang memanggil API kunci dengan permintaan yang ditandatangani rahasianya, masing-masing hanya sekali pakai. Nama yang dicabut tetap terpakai, sehingga rahasia lama tidak pernah hidup kembali lewat klien baru.
clients-scope-admin = administrator
clients-scope-user = rute pengguna
clients-revoked = dicabut
clients-revoke = Cabut
clients-empty = Belum ada klien layanan.
clients-add = Tambah klien
clients-add-admin = Administrator (boleh juga memanggil API admin, misalnya untuk mengimpor kunci API)
clients-add-hint = 1 sampai 64 huruf kecil, angka, - dan _. Rahasianya ditampilkan sekali, di halaman berikutnya.
clients-add-submit = Tambah klien
clients-error-name = Nama klien terdiri dari 1 sampai 64 huruf kecil, angka, - dan _, diawali huruf atau angka.
clients-error-exists = Klien dengan nama itu sudah ada (nama yang dicabut tetap terpakai).
clients-added-title = { $name } telah ditambahkan
clients-added-once = Salin rahasianya sekarang dan simpan di tempat penyimpanan rahasia klien: rahasia ini hanya ditampilkan sekali dan tidak dapat ditampilkan lagi. docs/signed-requests.md menjelaskan cara menandatangani permintaan dengannya.
clients-secret = Rahasia
clients-notice-revoked = Klien telah dicabut: permintaannya ditolak mulai sekarang, di setiap instans.
clients-notice-not_active = Klien itu tidak aktif (tidak dikenal atau sudah dicabut).
clients-revoke-title = Cabut { $name }?
clients-revoke-what-title = Akibat pencabutan
clients-revoke-what = Setiap permintaan yang ditandatangani { $name } ditolak mulai permintaan berikutnya, di setiap instans. Namanya tetap terpakai; untuk mengganti rahasia, tambahkan klien baru dan pindahkan pemanggilnya ke sana lebih dulu.
clients-revoke-confirm = Saya mengerti bahwa { $name } langsung berhenti bekerja dan tidak dapat dipulihkan.

## Log audit

audit-title = Log audit
audit-intro = Setiap perubahan pada akun, kunci, klien, dan pengaturan, setiap proses masuk, dan setiap penolakan, dari yang terbaru. Setiap entri dirantai ke entri sebelumnya, sehingga pengubahan, penghapusan, atau penyisipan akan terlihat saat rantai diverifikasi. Waktu dalam UTC.
audit-filter = Saring log audit
audit-col-at = Waktu
audit-col-actor = Pelaku
audit-col-action = Tindakan
audit-col-target = Sasaran
audit-col-outcome = Hasil
audit-col-kid = Diverifikasi oleh
audit-any = semua
audit-from = Dari (hari)
audit-until = Sampai (hari, termasuk)
audit-filter-submit = Tampilkan
audit-filter-clear = Tampilkan semuanya
audit-outcome-allowed = diizinkan
audit-outcome-started = dimulai
audit-outcome-denied = ditolak
audit-outcome-failed = gagal
audit-export-ndjson = Ekspor sebagai NDJSON
audit-export-csv = Ekspor sebagai CSV
audit-verify = Verifikasi rantai
audit-pages = Halaman log audit
audit-newest = Terbaru
audit-older = Lebih lama
audit-empty = Log audit masih kosong.
audit-empty-filtered = Tidak ada entri yang cocok dengan saringan ini.
audit-error-actor = Pelaku ditulis seperti nama yang dipakai log, misalnya user:alice, cli, atau client:deploy.
audit-error-action = Tindakan adalah nama bertitik seperti account.created, atau awalan yang diakhiri titik seperti account. untuk semuanya.
audit-error-outcome = Hasilnya diizinkan, dimulai, ditolak, atau gagal.
audit-error-date = Hari ditulis seperti 2026-11-30.
audit-verify-intact = Rantai utuh: { $entries } entri, sampai entri { $head }.
audit-verify-head = Kepalanya { $mac }. Simpan juga di tempat lain: ini juga menunjukkan bila seluruh basis data dikembalikan ke keadaan lama.
audit-verify-unknown = { $count ->
   *[other] { $count } tindakan belum diketahui hasilnya: niatnya tidak diikuti hasil (prosesnya berhenti di tengah). Periksa apakah tindakan itu terlaksana.
}
audit-verify-broken = Rantai rusak:
audit-verify-broken-next = Seseorang yang punya akses ke basis data telah mengubah log. Simpan salinan basis data seperti sekarang, lalu bandingkan dengan cadangan.
audit-broken-edited = entri { $first } diubah atau dipalsukan (MAC-nya tidak cocok dengan isinya).
audit-broken-ip_edited = hash IP entri { $first } diubah.
audit-broken-missing = entri { $first } sampai { $second } dihapus.
audit-broken-out_of_place = entri { $first } tidak mengikuti entri { $second }: ada entri yang dihapus, disisipkan, atau dipindahkan di antaranya.
audit-broken-truncated = log berakhir di entri { $first } padahal kepalanya mencatat entri { $second }: entri sesudahnya dihapus.
audit-broken-beyond_head = ada entri sesudah kepala yang tercatat ({ $first }): entri itu ditulis di luar kunci.
audit-broken-head_edited = kepala rantai diubah atau dihapus.

## Ringkasan

overview-health = Kesehatan
overview-up = menjawab
overview-down = mati
overview-optional = (kunci tetap berjalan tanpanya, dalam mode cadangan)
overview-degraded = Berjalan dalam mode cadangan yang terdokumentasi:
overview-doctor = Pemeriksaan yang sama beserta langkah perbaikannya, serta pemeriksaan HTTPS dan cookie sebagaimana pemasangan menjawab: jalankan kunci doctor di server.
overview-counts = Sekilas
overview-accounts = akun
overview-accounts-detail = { $admins } administrator, { $disabled } dinonaktifkan
overview-locked = terkunci setelah gagal masuk
overview-keys = kunci API
overview-clients = klien layanan aktif
overview-signing-verify = kunci penanda tangan yang hanya memverifikasi
overview-logins = Proses masuk, 24 jam terakhir
overview-logins-title = Proses masuk per jam (UTC)
overview-logins-ok = berhasil
overview-logins-refused = ditolak
overview-logins-cut = Proses masuk lebih banyak daripada yang dibaca grafik: yang ditampilkan 100.000 terbaru.
overview-hour = Jam (UTC)
chart-as-table = Angka yang sama dalam bentuk tabel

## Satu akun, untuk administrator

account-admin-sessions = Sesi dan login aplikasi
account-admin-col-ends = Berakhir paling lambat
account-admin-no-sessions = Akun ini tidak sedang masuk di mana pun.
account-admin-end-all = Akhiri semua sesi dan login aplikasi
account-admin-end-all-hint = Setiap peramban akun ini dikeluarkan pada permintaan berikutnya, dan token penyegaran aplikasinya berhenti berlaku. Gunakan bila akun ini mungkin dikuasai orang lain.
account-admin-is-admin = Akun ini administrator: dapat melihat konsol dan mengubah semua isinya.
account-admin-is-user = Akun ini pengguna biasa: halaman miliknya sendiri, dan halaman-halaman situs.
account-admin-make-admin = Jadikan administrator
account-admin-make-user = Cabut akses administrator
account-admin-notice-ended = Sesi telah diakhiri.
account-admin-notice-all_ended = Semua sesi dan login aplikasi akun ini telah diakhiri.
account-admin-notice-made_admin = Akun ini menjadi administrator mulai proses masuk berikutnya.
account-admin-notice-made_user = Akses administrator telah dicabut, dan semua sesi serta login aplikasi akun ini telah diakhiri.
account-admin-notice-not_yourself = Anda tidak dapat mencabut akses administrator milik sendiri: administrator lain dapat melakukannya, atau kunci user scope.

## Bentuk kunci

key-format-expected = Kunci layanan hulu ini berbentuk:
key-format-prefixed = “{ $prefix }” diikuti { $rest } huruf, angka, - atau _ ({ $total } karakter seluruhnya).
key-format-pattern = kunci yang cocok dengan pola { $pattern } (ditetapkan oleh operator).
key-format-printable = 8 sampai 512 karakter yang dapat dicetak, tanpa spasi.
key-error-bad_request = Layanan hulu menganggap permintaannya salah bentuk.
key-error-refused = Layanan hulu menolak kunci ini (tidak sah, diblokir, atau melewati kuotanya).
key-error-not_found = Layanan hulu tidak mengenal alamat itu.
key-error-too_many = Layanan hulu menjawab: terlalu banyak permintaan untuk saat ini.
key-error-upstream_failed = Layanan hulu gagal atau terlalu lama menjawab.
key-error-unreachable = Layanan hulu tidak dapat dihubungi.

## Mengimpor kunci dari berkas

import-title = Impor kunci dari berkas
import-file = Berkas teks, satu kunci per baris
import-hint = Baris kosong dan baris yang diawali # dilewati. Setiap kunci diperiksa, disimpan tersegel, dan diaudit seolah ditambahkan satu per satu; kunci yang sudah ada di kumpulan dibiarkan.
import-submit = Impor
import-summary = { $added ->
    [0] Tidak ada kunci yang ditambahkan ke { $upstream }.
   *[other] { $added } kunci ditambahkan ke { $upstream }.
}
import-duplicates = { $count } baris berisi kunci yang sudah ada di kumpulan.
import-invalid = { $count } baris bukan kunci dengan format layanan hulu ini.
import-failed = { $count } kunci tidak dapat disimpan (lihat log server); impor berkas ini lagi nanti.
import-col-line = Baris
import-col-result = Hasil
import-result-added = ditambahkan
import-result-duplicate = sudah ada di kumpulan
import-result-invalid = bukan kunci
import-result-failed = tidak tersimpan
import-error-upstream = Pilih salah satu layanan hulu dalam daftar.
import-error-priority = Prioritas berupa bilangan bulat.
import-error-not_text = Pilih berkas teks (UTF-8), satu kunci per baris.
import-error-empty = Berkas ini tidak berisi kunci.
import-error-too_long = Berkas ini lebih dari 10.000 baris: pecah menjadi beberapa berkas.

## Tautan atur ulang kata sandi

reset-title = Tetapkan kata sandi baru
reset-for = Untuk akun { $name }. Tautan ini hanya berlaku sekali, selama satu jam sejak dibuat.
reset-hint = Minimal { $min } karakter. Semua sesi dan login aplikasi akun ini berakhir, lalu Anda masuk dengan kata sandi baru.
reset-submit = Tetapkan kata sandi
reset-dead = Tautan ini tidak berlaku: sudah dipakai, sudah kedaluwarsa (tautan berlaku satu jam), atau sudah diganti tautan yang lebih baru. Mintalah tautan baru kepada administrator.
reset-error-short = Kata sandi baru minimal { $min } karakter.
reset-error-long = Kata sandi baru lebih dari 256 byte.
reset-error-mismatch = Kedua kata sandi baru tidak sama.
login-after-reset = Kata sandi baru Anda sudah ditetapkan. Masuklah dengannya.
account-admin-password = Kata sandi
account-admin-reset-hint = Tautan sekali pakai untuk menetapkan kata sandi baru dalam satu jam. Berikan kepada orangnya lewat jalur lain (tautan hanya ditampilkan sekali); tautan sebelumnya untuk akun ini berhenti berlaku.
account-admin-reset = Buat tautan atur ulang kata sandi
account-admin-reset-made = Tautan atur ulang untuk akun ini, berlaku satu jam dan sekali pakai:

## Penguncian

console-lockouts = Penguncian
lockouts-title = Penguncian
lockouts-intro = Setelah terlalu banyak gagal masuk, sebuah nama dikunci untuk sementara; peramban yang pernah berhasil masuk punya jatahnya sendiri (cookie perangkatnya), dan dikunci tersendiri. Nama terkunci yang bukan milik akun mana pun berarti ada yang sedang menebak nama. Membuka kunci juga melupakan percobaan yang gagal.
lockouts-col-what = Yang terkunci
lockouts-col-until = Sampai
lockouts-device = Cookie perangkat sebuah peramban
lockouts-no-account = akun ini tidak ada
lockouts-empty = Tidak ada yang terkunci.
lockouts-cut = Hanya { $limit } penguncian yang berakhir paling akhir yang ditampilkan.
lockouts-notice-unlocked = Kunci dibuka: percobaan yang gagal dilupakan.
lockouts-notice-not_locked = Itu tidak (lagi) terkunci.

## Surel pemberitahuan (dalam environment.default_language)

mail-title-account_locked = sebuah akun dikunci setelah berulang kali gagal masuk
mail-title-api_keys_exhausted = semua kunci API sebuah layanan hulu sudah habis
mail-title-api_keys_recovered = kunci API sebuah layanan hulu tersedia lagi
mail-title-api_key_invalid = sebuah kunci API ditolak karena tidak sah
mail-title-refresh_token_reuse = sebuah token penyegaran dipakai dua kali: login aplikasinya diakhiri
mail-title-signing_key_rotated = sebuah kunci penanda tangan dirotasi
mail-title-backup_failed = pencadangan terjadwal gagal
mail-field-kind = Peristiwa
mail-field-subject = Tentang
mail-field-at = Waktu
mail-field-actor = Oleh
mail-field-client_id = Aplikasi
mail-field-error = Galat
mail-field-family = Login aplikasi
mail-field-key_id = Kunci
mail-field-previous = Kunci sebelumnya
mail-field-purpose = Menandatangani
mail-field-reason = Alasan
mail-field-scope = Yang dikunci
mail-field-until = Sampai
mail-field-upstream = Layanan hulu

## Pemakaian kunci selama 30 hari

usage-title = Pemakaian selama 30 hari terakhir
usage-hint = Seberapa sering kumpulan menyerahkan kunci, per hari (UTC): satu grafik per grup kuota, dan satu per layanan hulu untuk kuncinya yang tanpa grup.
usage-group = Grup kuota { $group }
usage-ungrouped = Kunci { $upstream } tanpa grup
usage-of-key = Pemakaian { $key } per hari
usage-uses = pemakaian
usage-day = Hari (UTC)
chart-empty = tidak ada dalam periode ini.
overview-requests = Permintaan dan panggilan ke layanan hulu, 24 jam terakhir
overview-requests-title = Permintaan per jam (UTC), semua instans
overview-requests-answered = dijawab
overview-requests-failed = gagal di sisi kami (5xx)
overview-upstream-title = Panggilan ke layanan hulu per jam (UTC)
overview-upstream-served = dilayani
overview-upstream-limited = dibatasi, melewati kuota, atau tidak terjangkau
overview-upstream-refused = kunci atau permintaan ditolak

## Temuan doctor di ringkasan

overview-posture = Postur keamanan
overview-posture-passed = { $count } pemeriksaan lolos
overview-level-pass = lolos
overview-level-warn = peringatan
overview-level-fail = gagal
doctor-key_file_private = Berkas kunci induk hanya dapat dibaca pemiliknya.
doctor-key_file_missing = KUNCI_MASTER_KEY_FILE menunjuk { $path }, yang tidak ada.
doctor-key_file_loose = { $path } berisi kunci induk dan dapat dibaca grup atau orang lain: chmod 600 berkas itu.
doctor-instance_key_deployed = Kunci induk pengembangan tersimpan di instance/.masterkey ({ $environment } tidak pernah membacanya): hapus, kecuali itu memang kunci pemasangan ini.
doctor-env_file_deployed = Berkas rahasia tanpa enkripsi, { $name }, ada di mesin produksi ini: enkripsi dengan kunci env encrypt lalu hapus.
doctor-env_file = Berkas rahasia tanpa enkripsi, { $name }: enkripsi dengan kunci env encrypt lalu hapus.
doctor-env_files_none = Tidak ada berkas .env tanpa enkripsi di folder proyek.
doctor-backup_leftover = { $path } adalah sisa pencadangan yang terhenti (mungkin berisi basis data tanpa enkripsi): hapus.
doctor-config_secret = Rahasia { $key } tertulis di { $file }: pindahkan ke berkas env terenkripsi.
doctor-redis_url = data.redis_url bukan URL Redis.
doctor-redis_unreachable = Redis tidak menjawab saat mulai: penyimpanannya tidak diperiksa.
doctor-redis_config_refused = Redis menolak CONFIG GET: penyimpanannya tidak diperiksa.
doctor-redis_persists = Redis menyimpan sesi di disk.
doctor-redis_memory_only = Redis menyimpan sesi hanya di memori: bila Redis dimulai ulang, semua orang keluar (appendonly yes, atau save).
doctor-rotation_off = Rotasi otomatis kunci penanda tangan dimatikan (security.key_rotation_days = 0).
doctor-no_active_key = Belum ada kunci { $purpose } yang aktif.
doctor-key_overdue = Kunci { $purpose } yang aktif berumur { $days } hari, padahal rotasi setiap { $rotation } hari: rotasi sekarang, dan periksa apakah jadwal berjalan.
doctor-key_age = Kunci { $purpose } yang aktif berumur { $days } hari.
doctor-backups_off = Tidak ada pencadangan terjadwal (backup.interval_hours = 0).
doctor-no_backup_yet = Belum ada pencadangan terjadwal yang dibuat.
doctor-backup_overdue = Cadangan terbaru berumur { $hours } jam, padahal cadangan jatuh tempo setiap { $interval } jam: lihat log untuk backup_failed.
doctor-backup_fresh = Cadangan terbaru berumur { $hours } jam.
doctor-backup_other_key = Cadangan terbaru dibuat dengan kunci induk lain: buat cadangan dengan kunci pemasangan ini.
overview-posture-clean = Tidak ada pemeriksaan yang memperingatkan atau gagal.
doctor-admins_have_mfa = Setiap administrator punya faktor kedua.
doctor-admins_without_mfa = Administrator yang masuk hanya dengan kata sandi: { $names }.
