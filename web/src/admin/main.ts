import { createApp } from 'vue';
import AdminApp from './AdminApp.vue';
import './admin.css';

createApp(AdminApp).mount('#app');
